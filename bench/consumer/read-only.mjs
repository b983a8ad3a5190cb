// The floor under the consumer: the same kafkajs consumer settings as services/consumer
// (read_committed, eachBatch with explicit resolve and commit, the default fetch sizes),
// reading the benchmark's records and doing nothing with them. Run by run.mjs as its own
// process so that its CPU time is its own; it prints one JSON line and exits.
//
// With "parse" last, each record's value also goes through JSON.parse (what decoding an
// envelope costs at the least).
//
// Usage: node bench/consumer/read-only.mjs <brokers,comma-separated> <topic> <group> <records> [parse]
import { createKafka } from "@zeroloss/kafka";
import { createLogger } from "@zeroloss/observability";

const [brokers, topic, group, wanted, mode] = process.argv.slice(2);
const PARSE = mode === "parse";
const WANTED = Number(wanted);
if (!brokers || !topic || !group || !Number.isInteger(WANTED) || WANTED <= 0) {
  throw new Error("usage: read-only.mjs <brokers> <topic> <group> <records> [parse]");
}
// The consumer's defaults (packages/config): maxBatchBytes 8 MiB, 2 partitions at a time.
const MAX_BATCH_BYTES = 8 * 1024 * 1024;
const CONCURRENTLY = 2;

const log = createLogger({ name: "read-only", level: "warn" });
const kafka = createKafka({ brokers: brokers.split(","), clientId: "bench-read-only", log });
const consumer = kafka.consumer({
  groupId: group,
  readUncommitted: false,
  allowAutoTopicCreation: false,
  maxBytesPerPartition: MAX_BATCH_BYTES,
  maxBytes: MAX_BATCH_BYTES * CONCURRENTLY,
  maxWaitTimeInMs: 250,
});
const t0 = performance.now();
let read = 0;
let bytes = 0;
let firstAt = null;
let finish;
const finished = new Promise((r) => (finish = r));
await consumer.connect();
await consumer.subscribe({ topics: [topic], fromBeginning: true });
await consumer.run({
  autoCommit: false,
  eachBatchAutoResolve: false,
  partitionsConsumedConcurrently: CONCURRENTLY,
  eachBatch: async ({ batch, resolveOffset }) => {
    if (batch.messages.length === 0) return;
    firstAt ??= performance.now();
    for (const m of batch.messages) {
      bytes += m.value?.length ?? 0;
      if (PARSE && m.value !== null && JSON.parse(m.value.toString("utf8")) === null) throw new Error(`offset ${m.offset}: null`);
    }
    read += batch.messages.length;
    const next = (BigInt(batch.lastOffset()) + 1n).toString();
    await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
    resolveOffset(batch.lastOffset());
    if (read >= WANTED) finish();
  },
});
await finished;
const doneAt = performance.now();
const cpu = process.cpuUsage();
await consumer.disconnect();
console.log(
  JSON.stringify({
    records: read,
    valueBytes: bytes,
    ms: doneAt - t0,
    steadyMs: doneAt - firstAt,
    cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
  }),
);
