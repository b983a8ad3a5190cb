// The order rules of the overlapping Kafka writer, made deterministic: a scripted stand-in
// for kafkajs's producer API lets each request finish when the test says, so the races
// that real brokers hit only now and then are played every time. What a real broker does
// with the requests is covered by the integration tests (test/producer).
import { createLogger } from "@zeroloss/observability";
import { topicNames, type Checkpoint } from "@zeroloss/wire";
import type { Kafka } from "kafkajs";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { Failpoints } from "@zeroloss/failpoints";
import { noteRun, type WindowTally } from "./emitted-tallies.js";
import { KafkaWriter } from "./kafka-writer.js";
import { controlSends } from "./send-sizes.js";
import { ProducerMetrics } from "./metrics.js";

interface Call {
  readonly id: string;
  readonly kind: "send" | "commit" | "abort";
  readonly topics: string[];
  readonly records: number;
  settle(error?: Error): void;
}

/** kafkajs's producer surface as the writer uses it; every request waits for the test. */
function scriptedKafka() {
  const calls: Call[] = [];
  let offset = 0;
  const request = (id: string, kind: Call["kind"], topics: string[], records: number, result: () => unknown) =>
    new Promise((resolve, reject) => {
      calls.push({ id, kind, topics, records, settle: (error) => (error ? reject(error) : resolve(result())) });
    });
  const kafka = {
    producer: ({ transactionalId }: { transactionalId: string }) => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      transaction: async () => {
        // Like kafkajs: a transaction that sent nothing ends without a request to the broker.
        let used = false;
        return {
          sendBatch: ({ topicMessages }: { topicMessages: { topic: string; messages: { partition: number }[] }[] }) => {
            used = true;
            const records = topicMessages.reduce((n, t) => n + t.messages.length, 0);
            return request(transactionalId, "send", topicMessages.map((t) => t.topic), records, () =>
              topicMessages.flatMap((t) => {
                const parts = [...new Set(t.messages.map((m) => m.partition))];
                return parts.map((partition) => {
                  const count = t.messages.filter((m) => m.partition === partition).length;
                  const baseOffset = String(offset);
                  offset += count;
                  return { topicName: t.topic, partition, errorCode: 0, baseOffset };
                });
              }),
            );
          },
          commit: async () => (used ? request(transactionalId, "commit", [], 0, () => undefined) : undefined),
          abort: async () => (used ? request(transactionalId, "abort", [], 0, () => undefined) : undefined),
        };
      },
    }),
  };
  /** Waits until a request matching `what` is pending, and returns it. */
  const next = async (what: (c: Call) => boolean, label: string): Promise<Call> => {
    for (let i = 0; i < 200; i++) {
      const c = calls.find(what);
      if (c !== undefined) {
        calls.splice(calls.indexOf(c), 1);
        return c;
      }
      await new Promise((r) => setImmediate(r));
    }
    throw new Error(`no ${label} was requested; pending: ${calls.map((c) => `${c.id}:${c.kind}`).join(", ") || "none"}`);
  };
  const pending = () => calls.map((c) => `${c.id}:${c.kind}`);
  return { kafka: kafka as unknown as Kafka, next, pending };
}

const topics = topicNames("t");
const data = topics.data("public", "a");
const checkpoint = (lsn: string): Checkpoint => ({ v: 1, slot: "s", db: "d", lsn, phase: "streaming", at: "2026-11-21T00:00:00.000Z" });
const big = Buffer.alloc(300 * 1024, "x"); // three fill a partition's send (900 KiB)

async function writer() {
  const k = scriptedKafka();
  const w = new KafkaWriter(k.kafka, {
    transactionalId: "zl",
    transactionTimeoutMs: 60_000,
    topics,
    windowSize: 10,
    partitions: new Map([[data, 1], [topics.manifests, 1], [topics.tallies, 1], [topics.checkpoints, 1]]),
    log: createLogger({ name: "test", level: "silent" }),
    metrics: new ProducerMetrics(new Registry()),
    failpoints: Failpoints.none,
  });
  await w.connect();
  return { w, ...k };
}

/** Adds records until one add starts a send (returns that add's promise, not awaited). */
function fill(w: KafkaWriter, n: number): Promise<number>[] {
  return Array.from({ length: n }, (_, i) => w.add({ topic: data, key: `k${i}`, value: big }));
}

describe("KafkaWriter: overlapping sends and commits keep Kafka's order", () => {
  it("sends the next transaction's records only after the previous transaction's last records", async () => {
    const { w, next, pending } = await writer();
    await Promise.all(fill(w, 3)); // a send starts (in flight, not finished)
    const first = await next((c) => c.kind === "send", "first data send");
    expect(first.id).toBe("zl");
    await w.add({ topic: data, key: "tail", value: Buffer.from("t") }); // left for the commit to send
    const committed = w.commit([], checkpoint("0/10"));
    // The next transaction fills a send of its own, on the other transactional id ...
    const adds = fill(w, 3);
    await new Promise((r) => setImmediate(r));
    // ... which must wait: the first transaction's send is still in flight, its tail unsent.
    expect(pending()).toEqual([]);
    first.settle();
    const tail = await next((c) => c.kind === "send" && c.id === "zl", "the tail of the first transaction");
    expect(tail.records).toBe(1);
    expect(pending()).toEqual([]); // still nothing from the next transaction
    tail.settle();
    const second = await next((c) => c.kind === "send" && c.id === "zl-1", "the second transaction's send");
    expect(second.records).toBe(3);
    // The first transaction's checkpoint goes out while the second one sends: that is the overlap.
    const meta = await next((c) => c.kind === "send" && c.id === "zl", "the first transaction's checkpoint");
    expect(meta.topics).toContain(topics.checkpoints);
    meta.settle();
    (await next((c) => c.kind === "commit" && c.id === "zl", "the first commit")).settle();
    await committed;
    second.settle();
    await Promise.all(adds);
  });

  it("sends a partition's buffer first when a large record would take the batch past the broker's limit", async () => {
    const { w, next } = await writer();
    await Promise.all([w.add({ topic: data, key: "a", value: big }), w.add({ topic: data, key: "b", value: big })]); // 600 KiB: below the send threshold
    const adding = w.add({ topic: data, key: null, value: Buffer.alloc(450 * 1024, "y"), partition: 0 }); // a bulk snapshot record
    const first = await next((c) => c.kind === "send", "the two records before the large one");
    expect(first.records).toBe(2);
    first.settle();
    await adding;
    const committed = w.commit([], checkpoint("0/10"));
    const second = await next((c) => c.kind === "send" && c.records === 1, "the large record alone");
    second.settle();
    (await next((c) => c.kind === "send", "the checkpoint")).settle();
    (await next((c) => c.kind === "commit", "the commit")).settle();
    await committed;
  });

  it("writes a transaction's checkpoint only after the previous commit landed, and fails it if that commit failed", async () => {
    const { w, next, pending } = await writer();
    await w.add({ topic: data, key: "a", value: Buffer.from("1") });
    const c1 = w.commit([], checkpoint("0/10"));
    c1.catch(() => undefined);
    (await next((c) => c.kind === "send" && c.id === "zl" && c.topics.includes(data), "first data")).settle();
    (await next((c) => c.kind === "send" && c.id === "zl", "first checkpoint")).settle();
    const commit1 = await next((c) => c.kind === "commit", "first commit");
    await w.add({ topic: data, key: "b", value: Buffer.from("2") });
    const c2 = w.commit([], checkpoint("0/20"));
    c2.catch(() => undefined);
    (await next((c) => c.kind === "send" && c.id === "zl-1" && c.topics.includes(data), "second data")).settle();
    await new Promise((r) => setImmediate(r));
    expect(pending(), "no second checkpoint before the first commit lands").toEqual([]);
    commit1.settle(new Error("the broker refused the commit"));
    await expect(c1).rejects.toThrow(/refused/);
    await expect(c2).rejects.toThrow(/refused/);
    expect(pending()).toEqual([]);
  });

  it("sends a third transaction only after its lane's previous commit, when commits are queued back to back", async () => {
    const { w, next, pending } = await writer();
    const commits: Promise<void>[] = [];
    for (const [i, lsn] of ["0/10", "0/20"].entries()) {
      await w.add({ topic: data, key: `k${i}`, value: Buffer.from(String(i)) });
      commits.push(w.commit([], checkpoint(lsn)));
    }
    const third = fill(w, 3); // back on lane "zl", whose transaction is not committed yet
    const tick = () => new Promise((r) => setImmediate(r));
    (await next((c) => c.kind === "send" && c.id === "zl" && c.records === 1, "first data")).settle();
    (await next((c) => c.kind === "send" && c.id === "zl-1" && c.records === 1, "second data")).settle();
    await tick();
    expect(pending(), "the first checkpoint only: the second waits for the first commit, the third transaction for its lane").toEqual(["zl:send"]);
    (await next((c) => c.kind === "send" && c.id === "zl", "first checkpoint")).settle();
    await tick();
    expect(pending()).toEqual(["zl:commit"]);
    (await next((c) => c.kind === "commit" && c.id === "zl", "first commit")).settle();
    (await next((c) => c.kind === "send" && c.id === "zl" && c.records === 3, "the third transaction's send")).settle();
    (await next((c) => c.kind === "send" && c.id === "zl-1", "second checkpoint")).settle();
    (await next((c) => c.kind === "commit" && c.id === "zl-1", "second commit")).settle();
    await Promise.all([...commits, ...third]);
  });

  it("commits nothing once aborted: commits still on their way fail, their transactions are aborted, adds are refused", async () => {
    const { w, next, pending } = await writer();
    await w.add({ topic: data, key: "a", value: Buffer.from("1") });
    const c1 = w.commit([], checkpoint("0/10"));
    c1.catch(() => undefined);
    const data1 = await next((c) => c.kind === "send", "first data");
    await w.add({ topic: data, key: "b", value: Buffer.from("2") });
    const c2 = w.commit([], checkpoint("0/20")); // its checkpoint waits for the first commit
    c2.catch(() => undefined);
    const aborted = w.abort();
    data1.settle();
    await expect(c1).rejects.toThrow(/after the Kafka writer was aborted/);
    await expect(c2).rejects.toThrow(/after the Kafka writer was aborted|aborted/);
    (await next((c) => c.kind === "abort" && c.id === "zl", "the first transaction's abort")).settle();
    await aborted;
    expect(pending().filter((p) => p.endsWith(":commit") || p.endsWith(":send"))).toEqual([]);
    await expect(w.add({ topic: data, key: "c", value: Buffer.from("3") })).rejects.toThrow(/aborted/);
  });

  it("is not busy once a commit landed, so an idle stream may acknowledge keepalives", async () => {
    const { w, next } = await writer();
    await w.add({ topic: data, key: "a", value: Buffer.from("1") });
    const c1 = w.commit([], checkpoint("0/10"));
    expect(w.open).toBe(true);
    (await next((c) => c.kind === "send" && c.topics.includes(data), "data")).settle();
    (await next((c) => c.kind === "send", "checkpoint")).settle();
    (await next((c) => c.kind === "commit", "commit")).settle();
    await c1;
    expect(w.open).toBe(false);
  });
});

describe("KafkaWriter: tallies and control records as the counter needs them", () => {
  it("notes one tally per window and unbroken run, never a range over offsets the transaction does not hold", () => {
    const tallies = new Map<string, WindowTally>();
    noteRun(tallies, "t", 0, 995, [1, 1, 1], 1000); // 995-997
    noteRun(tallies, "t", 0, 998, [1, 500, 1, 300], 1000); // 998-1001: continues the run, crosses into window 1000; two bulk records
    noteRun(tallies, "t", 0, 1003, [1, 1], 1000); // 1003-1004: after the other lane's commit marker at 1002
    const runs = [...tallies.values()].map((t) => [t.windowStart, t.firstOffset, t.lastOffset, t.count, t.rows]).sort((a, b) => (a[1] as number) - (b[1] as number));
    expect(runs).toEqual([
      [0, 995, 999, 5, 504],
      [1000, 1000, 1001, 2, 301],
      [1000, 1003, 1004, 2, 2],
    ]);
    for (const t of tallies.values()) expect(t.lastOffset - t.firstOffset + 1).toBe(t.count);
  });

  it("cuts thousands of manifests into sends the broker takes, the checkpoint in the last", () => {
    const value = Buffer.alloc(500, "m");
    const records = [
      ...Array.from({ length: 5000 }, () => ({ topic: "m", key: "db", value })),
      ...Array.from({ length: 10 }, () => ({ topic: "t", key: "x:0", value })),
      { topic: "c", key: "slot", value },
    ];
    const sends = controlSends(records);
    expect(sends.length).toBeGreaterThan(2);
    for (const send of sends) for (const t of send) expect(t.messages.reduce((n, m) => n + (m.value as Buffer).length, 0)).toBeLessThan(900 * 1024);
    expect(sends.flat().reduce((n, t) => n + t.messages.length, 0)).toBe(records.length);
    expect(sends[sends.length - 1]?.some((t) => t.topic === "c")).toBe(true);
  });
});
