// Streamer options for the streamer's unit tests (streamer.test.ts, streamer-ack.test.ts):
// no server, a writer the test supplies, integer key columns, silent logs. One definition,
// so a new option is added to both tests' streamers at once. Not used by the service.
import { Failpoints } from "@zeroloss/failpoints";
import type { TypeNames } from "@zeroloss/pg";
import type { TopicNames } from "@zeroloss/wire";
import { pino } from "pino";
import { Registry } from "prom-client";
import { JSON_ENCODING } from "./envelopes.js";
import type { KafkaWriter } from "./kafka-writer.js";
import { ProducerMetrics } from "./metrics.js";
import type { StreamerOptions } from "./streamer.js";

export function testStreamerOptions(topics: TopicNames, writer: KafkaWriter, overrides: Partial<StreamerOptions> = {}): StreamerOptions {
  return {
    url: "postgres://unused",
    slot: "s",
    publication: "p",
    db: "db",
    topics,
    encoding: JSON_ENCODING,
    writer,
    types: { resolve: async () => "integer" } as unknown as TypeNames,
    primaryKey: async () => ["id"],
    columnFacts: async () => new Map(),
    batchRecords: 1_000_000,
    lingerMs: 0,
    log: pino({ level: "silent" }),
    metrics: new ProducerMetrics(new Registry()),
    failpoints: Failpoints.none,
    onDurable: () => undefined,
    live: [],
    bulk: false,
    keyAfter: async () => true,
    ...overrides,
  };
}
