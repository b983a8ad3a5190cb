// The Kafka side of the stack is real: topics created explicitly, acks=all, idempotent and
// transactional producers, read_committed consumer groups. The producer (issue 3) depends on
// every one of these working against the pinned broker version.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Admin } from "kafkajs";
import { createTopic, kafkaClient, readBack } from "./kafka-helpers.js";

const stack = inject("stack");
const kafka = kafkaClient(stack.kafka, "smoke-one-broker");

describe("Kafka (1 broker)", () => {
  let admin: Admin;
  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.disconnect();
  });

  it("produces with acks=all and reads every record back", async () => {
    const topic = `smoke.acks-all.${Date.now()}`;
    await createTopic(admin, topic, 3, 1);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const messages = Array.from({ length: 50 }, (_, i) => ({ key: `k${i % 7}`, value: `v${i}` }));
    try {
      await producer.send({ topic, acks: -1, messages });
    } finally {
      await producer.disconnect();
    }
    const seen = await readBack(kafka, topic, messages.length);
    expect(seen.map((r) => r.value).sort()).toEqual(messages.map((m) => m.value).sort());
    // Keyed records stay in one partition per key.
    const partitionsByKey = new Map<string, Set<number>>();
    for (const r of seen) partitionsByKey.set(r.key, (partitionsByKey.get(r.key) ?? new Set()).add(r.partition));
    for (const partitions of partitionsByKey.values()) expect(partitions.size).toBe(1);
  });

  it("keeps aborted transactions away from read_committed consumers", async () => {
    const topic = `smoke.txn.${Date.now()}`;
    await createTopic(admin, topic, 2, 1);
    const producer = kafka.producer({ transactionalId: `${topic}-producer`, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const aborted = await producer.transaction();
      await aborted.send({ topic, acks: -1, messages: [{ key: "a", value: "aborted-1" }, { key: "b", value: "aborted-2" }] });
      await aborted.abort();
      const committed = await producer.transaction();
      await committed.send({ topic, acks: -1, messages: [{ key: "a", value: "committed-1" }, { key: "b", value: "committed-2" }] });
      await committed.commit();
    } finally {
      await producer.disconnect();
    }
    const seen = await readBack(kafka, topic, 2);
    expect(seen.map((r) => r.value).sort()).toEqual(["committed-1", "committed-2"]);
    // Offsets are not dense in a transactional topic: the markers take offsets too.
    const offsets = await admin.fetchTopicOffsets(topic);
    const highWatermarks = offsets.reduce((sum, p) => sum + Number(p.high), 0);
    expect(highWatermarks).toBeGreaterThan(seen.length);
  });

  it("refuses to auto-create topics", async () => {
    const producer = kafka.producer({ allowAutoTopicCreation: true, retry: { retries: 1 } });
    await producer.connect();
    try {
      await expect(producer.send({ topic: `smoke.never-created.${Date.now()}`, messages: [{ value: "x" }] })).rejects.toThrow();
    } finally {
      await producer.disconnect();
    }
  });
});
