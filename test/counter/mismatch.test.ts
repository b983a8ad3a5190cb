// Windows that do not balance, as an SRE would meet them (grace period 2 s):
//   - a record that never arrives: an emitted tally, written into the tallies topic by the
//     test, claims three records at offsets the data topic does not hold;
//   - a consumer stopped for longer than the grace period while the source changes.
// Both must show as mismatch in /api/windows, /metrics and `zeroloss status` (exit 1),
// naming the offsets; a counter that cannot be reached makes `zeroloss status` exit 2.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { encodeJson, topicNames, type Tally } from "@zeroloss/wire";
import { sourceClient, waitForEqual, type TableSpec } from "../consumer/harness.js";
import type { RunningProducer } from "../producer/harness.js";
import { counterFixture, metricReaches, waitForSummary, type CounterFixture, type RunningCounter } from "./harness.js";

const TABLES: TableSpec[] = [{ name: "public.items", columns: ["id", "v"], key: ["id"] }];

interface WindowsBody {
  windows: { topic: string; partition: number; windowStart: number; state: string; problems: string[] }[];
}

describe("counter mismatches", () => {
  let f: CounterFixture;
  let src: pg.Client;
  let producer: RunningProducer;
  let consumer: RunningProducer;
  let counter: RunningCounter;

  beforeAll(async () => {
    f = await counterFixture(inject("stack"), "ctrmis", { tallies: { windowSize: 50 }, counter: { graceSeconds: 2 } });
    src = await sourceClient(f);
    await src.query(`CREATE TABLE items (id int PRIMARY KEY, v text)`);
    await src.query(`INSERT INTO items SELECT i, 'v' || i FROM generate_series(1, 200) i`);
    producer = await f.start();
    consumer = await f.startConsumer();
    counter = await f.startCounter();
    await waitForEqual(f, src, TABLES, [producer, consumer]);
    await waitForSummary(counter, "a balanced ledger before anything goes wrong", (s) => s.ok && s.totals.applied === 200 && s.windows.behind === 0);
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
  });

  it("a record that never arrives: the window is a mismatch naming the missing offsets", async () => {
    const topics = topicNames(f.prefix);
    const dataTopic = topics.data("public", "items");
    const fake: Tally = { v: 1, stage: "emitted", topic: dataTopic, partition: 0, windowStart: 5000, windowSize: 50, count: 3, firstOffset: 5000, lastOffset: 5002 };
    const p = f.kafka.producer();
    await p.connect();
    await p.send({ topic: topics.tallies, messages: [{ key: `${dataTopic}:0`, value: encodeJson(fake), partition: 0 }] });
    await p.disconnect();

    const s = await waitForSummary(counter, "the claimed window to turn into a mismatch", (x) => x.windows.mismatch >= 1);
    expect(s.ok).toBe(false);
    const flagged = s.needsAttention.find((w) => w.windowStart === 5000);
    expect(flagged?.state).toBe("mismatch");
    expect(flagged?.problems.join("; ")).toContain("the producer emitted 3 records, Kafka holds 0; emitted offsets not in Kafka: 5000-5002");

    const listed = await counter.api<WindowsBody>(`/api/windows?state=mismatch&topic=${encodeURIComponent(dataTopic)}&partition=0`);
    expect(listed?.windows.map((w) => w.windowStart)).toEqual([5000]);
    // The gauges follow the ledger on the counter's refresh tick (counter.refreshMs).
    await metricReaches(counter, "zeroloss_ledger_windows", { state: "mismatch" }, (v) => v >= 1);
    await metricReaches(counter, "zeroloss_ledger_oldest_unbalanced_window_seconds", {}, (v) => v > 2);

    const status = await f.status(counter);
    expect(status.code, status.stdout + status.stderr).toBe(1);
    expect(status.stdout).toMatch(/^PROBLEM/);
    expect(status.stdout).toContain(`MISMATCH ${dataTopic}[0] offsets 5000-5049: the producer emitted 3 records, Kafka holds 0`);
    const json = await f.status(counter, true);
    expect(json.code).toBe(1);
    expect((JSON.parse(json.stdout) as { ok: boolean }).ok).toBe(false);
  });

  it("a consumer stopped past the grace period: its windows are mismatches naming the unwritten offsets", async () => {
    await consumer.stop();
    await src.query(`INSERT INTO items SELECT i, 'late' FROM generate_series(201, 230) i`);
    const s = await waitForSummary(counter, "windows without written records to turn into mismatches", (x) =>
      x.needsAttention.some((w) => w.state === "mismatch" && w.problems.some((p) => p.includes("not reported written"))),
    );
    const unwritten = s.needsAttention.filter((w) => w.state === "mismatch" && w.problems.some((p) => p.includes("not reported written")));
    for (const w of unwritten) expect(w.problems.join("; ")).toMatch(/records in Kafka not reported written: offsets \d+/);
    expect(s.partitions.reduce((n, p) => n + p.transferred - p.written, 0)).toBe(30);
    await metricReaches(counter, "zeroloss_ledger_lag_records", { stage: "target" }, (v) => v === 30);
    const status = await f.status(counter);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain("not reported written");

    // Started again, the consumer catches up and those windows balance again.
    consumer = await f.startConsumer();
    await waitForEqual(f, src, TABLES, [producer, consumer]);
    await waitForSummary(counter, "the consumer's windows to balance again", (x) => x.totals.applied === 230 && !x.needsAttention.some((w) => w.problems.some((p) => p.includes("not reported written"))));
  });

  it("a counter that cannot be reached: zeroloss status exits 2", async () => {
    await counter.stop();
    const status = await f.status(counter);
    expect(status.code).toBe(2);
    expect(status.stderr).toContain("COUNTER_UNREACHABLE");
  });
});
