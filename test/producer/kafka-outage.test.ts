// Kafka goes away under load: the producer stops acknowledging the slot (its confirmed
// flush LSN does not move while the broker is down), reports itself unhealthy once the
// outage outlasts producer.stallSeconds, and, when the broker returns, resumes by itself
// with nothing lost and nothing doubled. Runs its own 1-broker Kafka, so stopping it
// leaves the shared stack alone.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { pollUntil, startKafkaCluster, type KafkaCluster } from "@zeroloss/devstack";
import { testLogger } from "../setup/logger.js";
import { producerFixture, waitForRecords, type ProducerFixture, type RunningProducer } from "./harness.js";

const stack = inject("stack");
const OUTAGE_MS = 30_000;

describe("producer: Kafka outage under load", () => {
  let cluster: KafkaCluster;
  let f: ProducerFixture;
  let producer: RunningProducer;

  beforeAll(async () => {
    cluster = await startKafkaCluster({ brokers: 1, log: testLogger("outage-kafka") });
    f = await producerFixture({ source: stack.source, kafka: cluster.brokers }, "outage", { producer: { stallSeconds: 5, lingerMs: 20 } });
    await f.sql.query(`CREATE TABLE public.payments (id bigint PRIMARY KEY, amount numeric(18,4) NOT NULL)`);
    producer = await f.start();
    await pollUntil(async () => ((await producer.health())?.body["status"] === "streaming" ? true : undefined), { timeoutMs: 60_000, what: "the producer to stream" });
  });

  afterAll(async () => {
    await producer?.stop();
    await f?.close();
    await cluster?.stop();
  });

  it("holds the slot while the broker is down 30 s, then delivers every change exactly once", { timeout: 240_000 }, async () => {
    const nodes = cluster.nodes;
    if (nodes === undefined) throw new Error(`this test stops a broker, which needs the local stack (mode ${cluster.mode})`);
    let inserted = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await f.sql.query(`INSERT INTO public.payments SELECT g, g * 0.01 FROM generate_series($1::bigint, $2::bigint) g`, [inserted + 1, inserted + 50]);
        inserted += 50;
        await new Promise((r) => setTimeout(r, 20)); // a steady trickle of small transactions, not a condition wait
      }
    })();
    await waitForRecords(f, "public.payments", 500, producer);

    await nodes.stopNode(1);
    const downAt = Date.now();
    const flushedAtStop = await f.confirmedFlush();
    let sawUnhealthy = false;
    const flushedDuring = new Set<string | null>();
    // Sample for the whole outage: the slot must not move, /healthz must turn 503.
    await pollUntil(
      async () => {
        flushedDuring.add(await f.confirmedFlush());
        const h = await producer.health();
        if (h?.status === 503) sawUnhealthy = true;
        return Date.now() - downAt >= OUTAGE_MS ? true : undefined;
      },
      { timeoutMs: OUTAGE_MS + 10_000, intervalMs: 250, what: "the outage to last 30 s" },
    );
    const flushedBeforeRestart = await f.confirmedFlush();
    await nodes.startNode(1);
    writing = false;
    await writer;
    expect(producer.proc.exitCode, `the producer must ride out the outage, not exit:\n${producer.output().slice(-3000)}`).toBeNull();

    // A transaction already on its way to Kafka may have committed just before the broker
    // stopped; after that the position must stay put.
    expect(flushedDuring.size, `confirmed flush moved during the outage: ${[...flushedDuring].join(", ")}`).toBeLessThanOrEqual(2);
    expect(flushedBeforeRestart).toBe([...flushedDuring].at(-1));
    expect(flushedAtStop).not.toBeNull();
    expect(sawUnhealthy, "/healthz should report the stall").toBe(true);

    const recs = await waitForRecords(f, "public.payments", inserted, producer, 120_000);
    const ids = recs.map((r) => Number(r.envelope.after?.["id"])).sort((a, b) => a - b);
    expect(ids.length).toBe(inserted);
    expect(ids.every((id, i) => id === i + 1)).toBe(true);
    await pollUntil(async () => ((await producer.health())?.status === 200 ? true : undefined), { timeoutMs: 60_000, what: "/healthz to recover" });
  });
});
