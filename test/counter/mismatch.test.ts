// The counter's proofs, as an SRE meets them (docs/counter.md, "Window states"). One
// partition per topic, windows of 50 offsets, the real pipeline as processes; what goes
// wrong is put into Kafka the way it would happen in flight:
//   - a stopped consumer is lag, not loss: its windows are behind, status exits 0 and says so;
//   - a record altered and put into Kafka is quarantined: status exits 1 within 5 s, the
//     window is in attention although its counts are still behind, /api/summary says ok: false;
//   - a record the consumer skips (its group offset moved past it) is a proven gap within
//     10 s of the consumer writing past it, named by offset, and its transaction is never
//     applied;
//   - a committed tally claiming records Kafka does not hold (they were aborted) is a
//     mismatch once the counter has read past them;
//   - a transaction with one record more than its manifest promises is incomplete at once,
//     naming its records' offsets;
//   - the replication slot advanced past the producer's checkpoint (the producer stopped):
//     the counter's slot check reports it with both LSNs, status exits 1;
//   - a counter that cannot be reached: status exits 2.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { pollUntil } from "@zeroloss/devstack";
import { encodeJson, topicNames, type Envelope, type Tally } from "@zeroloss/wire";
import { sourceClient, waitForEqual, type TableSpec } from "../consumer/harness.js";
import type { RunningProducer } from "../producer/harness.js";
import { counterFixture, metricReaches, waitForSummary, type CounterFixture, type RunningCounter } from "./harness.js";

const ITEMS: TableSpec = { name: "public.items", columns: ["id", "v"], key: ["id"] };
const WINDOW = 50;

interface TransactionsBody {
  transactions: { xid: number | null; state: string; problem: string | null; offsets: Record<string, string> }[];
}

describe("counter proofs: lag is not loss, and what is proven is raised at once", () => {
  let f: CounterFixture;
  let src: pg.Client;
  let producer: RunningProducer;
  let consumer: RunningProducer;
  let counter: RunningCounter;
  let dataTopic: string;
  let talliesTopic: string;
  let nextId = 201;

  /** Inserts `n` rows, one source transaction each. */
  const insert = async (n: number, v = "v"): Promise<number[]> => {
    const ids: number[] = [];
    for (let i = 0; i < n; i++, nextId++) {
      await src.query(`INSERT INTO items VALUES ($1, $2)`, [nextId, `${v}${nextId}`]);
      ids.push(nextId);
    }
    return ids;
  };

  /** The record of row `id`'s insert (streamed, so in a transaction with an xid) as the producer wrote it. */
  const recordOf = async (id: number) =>
    pollUntil(async () => (await f.records(ITEMS.name)).find((r) => r.envelope.op === "c" && r.envelope.after?.["id"] === String(id)), { timeoutMs: 30_000, what: `the record of row ${id}` });

  /** Sends `value` to the data topic in a Kafka transaction with an emitted tally for its offset: Kafka's counts stay intact. */
  const injectAccounted = async (key: string | null, value: string): Promise<number> => {
    const p = f.kafka.producer({ transactionalId: `inject-${Math.random().toString(36).slice(2)}`, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await p.connect();
    const txn = await p.transaction();
    const [meta] = await txn.send({ topic: dataTopic, acks: -1, messages: [{ key, value, partition: 0 }] });
    const offset = Number(meta?.baseOffset);
    const tally: Tally = { v: 1, stage: "emitted", topic: dataTopic, partition: 0, windowStart: Math.floor(offset / WINDOW) * WINDOW, windowSize: WINDOW, count: 1, firstOffset: offset, lastOffset: offset };
    await txn.send({ topic: talliesTopic, acks: -1, messages: [{ key: `${dataTopic}:0`, value: encodeJson(tally), partition: 0 }] });
    await txn.commit();
    await p.disconnect();
    return offset;
  };

  beforeAll(async () => {
    // One record per snapshot row: the windows and offsets checked here count records (source.snapshot.bulk).
    f = await counterFixture(inject("stack"), "ctrmis", { source: { snapshot: { bulk: false } }, kafka: { partitions: 1 }, tallies: { windowSize: WINDOW }, counter: { slotCheckSeconds: 1 } });
    const topics = topicNames(f.prefix);
    dataTopic = topics.data("public", "items");
    talliesTopic = topics.tallies;
    src = await sourceClient(f);
    await src.query(`CREATE TABLE items (id int PRIMARY KEY, v text)`);
    await src.query(`INSERT INTO items SELECT i, 'v' || i FROM generate_series(1, 200) i`);
    producer = await f.start();
    consumer = await f.startConsumer();
    counter = await f.startCounter();
    await waitForEqual(f, src, [ITEMS], [producer, consumer]);
    await waitForSummary(counter, "a balanced ledger before anything goes wrong", (s) => s.ok && s.totals.applied === 200 && s.windows.behind === 0);
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
  });

  it("a stopped consumer is lag, not loss: its windows are behind and status exits 0, saying so", async () => {
    await consumer.stop();
    await insert(30);
    const s = await waitForSummary(counter, "the new records counted in Kafka, not written", (x) => x.totals.transferred === 230 && x.totals.emitted === 230);
    expect(s.windows.mismatch).toBe(0);
    expect(s.windows.behind).toBeGreaterThanOrEqual(1);
    expect(s.ok).toBe(true);
    const behind = s.needsAttention.filter((w) => w.state === "behind");
    expect(behind.map((w) => w.problems.join("; ")).join("\n")).toMatch(/behind: \d+ of \d+ records in Kafka not reported written yet \((written up to offset \d+|nothing written yet)\): offsets \d+/);
    await metricReaches(counter, "zeroloss_ledger_windows", { state: "behind" }, (v) => v >= 1);
    await metricReaches(counter, "zeroloss_ledger_lag_records", { stage: "target" }, (v) => v === 30);
    const status = await f.status(counter);
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^OK so far, behind: /);
    expect(status.stdout).not.toContain("MISMATCH");

    consumer = await f.startConsumer();
    await waitForEqual(f, src, [ITEMS], [producer, consumer]);
    await waitForSummary(counter, "the consumer's windows to balance again", (x) => x.ok && x.totals.applied === 230 && x.windows.behind === 0);
  });

  it("a quarantined record turns status to exit 1 within 5 s, even while its window is behind: attention, ok false, never OK beside it", async () => {
    const original = await recordOf(205);
    // Altered and put into Kafka by someone else: no tally, no manifest, nothing after it, so
    // its window stays behind (Kafka holds a record the producer has not reported, unproven);
    // the quarantine alone must make it a problem at once.
    const source = { ...original.envelope.source, commitLsn: "0/FFFFFF01", commitTime: "2026-12-06 00:00:00.000001+00", xid: 999_001 };
    const tampered: Envelope = { ...original.envelope, source, after: { ...original.envelope.after, v: "altered" } };
    const plain = f.kafka.producer({ allowAutoTopicCreation: false });
    await plain.connect();
    await plain.send({ topic: dataTopic, acks: -1, messages: [{ key: original.key, value: JSON.stringify(tampered), partition: 0 }] });
    await plain.disconnect();
    await pollUntil(async () => ((await f.target.query(`SELECT 1 FROM zeroloss.quarantine`)).rows.length > 0 ? true : undefined), { timeoutMs: 30_000, what: "the quarantine row" });
    const status = await pollUntil(
      async () => {
        const st = await f.status(counter);
        return st.code === 1 ? st : undefined;
      },
      { timeoutMs: 5_000, intervalMs: 200, what: "zeroloss status to exit 1 within 5 s of the quarantine" },
    );
    expect(status.stdout).toMatch(/^PROBLEM: 1 record\(s\) quarantined/);
    expect(status.stdout).not.toMatch(/^OK/m);
    expect(status.stdout).toContain("ATTENTION");
    const s = await waitForSummary(counter, "the window in attention", (x) => x.windows.attention === 1);
    expect(s.ok).toBe(false);
    expect(s.windows.mismatch).toBe(0);
    expect(s.totals.quarantined).toBe(1);
    const w = s.needsAttention.find((x) => x.state === "attention");
    expect(w?.transferred).toBe((w?.emitted ?? 0) + 1); // behind on its counts, and still not OK
    await metricReaches(counter, "zeroloss_ledger_windows", { state: "attention" }, (v) => v === 1);
  });

  it("a record the consumer skips is a proven gap within 10 s, named by offset, and its transaction is never applied", async () => {
    await consumer.stop();
    const ids = await insert(5, "skip");
    const skipped = await recordOf(ids[0] as number);
    const last = await recordOf(ids[ids.length - 1] as number);
    // The group's offset moved past one record: it is never delivered to the consumer.
    const admin = f.kafka.admin();
    await admin.connect();
    await admin.setOffsets({ groupId: f.group, topic: dataTopic, partitions: [{ partition: 0, offset: String(skipped.offset + 1) }] });
    await admin.disconnect();
    consumer = await f.startConsumer();
    await pollUntil(async () => ((await f.target.query(`SELECT 1 FROM items WHERE id = $1`, [last.envelope.after?.["id"]])).rows.length > 0 ? true : undefined), {
      timeoutMs: 60_000,
      what: "the consumer to write the records after the skipped one",
    });
    const s = await waitForSummary(counter, "the gap proven within 10 s", (x) => x.needsAttention.some((w) => w.state === "mismatch" && w.problems.some((p) => p.includes("were never written"))), 10_000);
    const gap = s.needsAttention.find((w) => w.problems.some((p) => p.includes("were never written")));
    expect(gap?.problems.join("; ")).toContain(`offsets ${skipped.offset} were never written: the consumer wrote later offsets of this partition without them`);
    expect(s.ok).toBe(false);

    // Every later transaction is applied; the skipped record's never is.
    const xid = skipped.envelope.source.xid;
    const lastXid = last.envelope.source.xid;
    await pollUntil(
      async () => {
        const body = await counter.api<TransactionsBody>("/api/transactions?state=applied");
        return body?.transactions.some((t) => t.xid === lastXid) === true ? true : undefined;
      },
      { timeoutMs: 30_000, what: `transaction ${lastXid} applied` },
    );
    const all = await counter.api<TransactionsBody>("/api/transactions");
    const txn = all?.transactions.find((t) => t.xid === xid);
    expect(txn?.state).toBe("complete");
    expect(txn?.offsets).toEqual({ [`${dataTopic}:0`]: String(skipped.offset) });
  });

  it("a committed tally claiming records Kafka does not hold is a mismatch once the counter has read past them", async () => {
    const p = f.kafka.producer({ transactionalId: `aborted-${Math.random().toString(36).slice(2)}`, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await p.connect();
    const txn = await p.transaction();
    const [meta] = await txn.send({ topic: dataTopic, acks: -1, messages: [0, 1, 2].map((i) => ({ key: `lost${i}`, value: "{}", partition: 0 })) });
    await txn.abort();
    await p.disconnect();
    const first = Number(meta?.baseOffset);
    const claim: Tally = { v: 1, stage: "emitted", topic: dataTopic, partition: 0, windowStart: Math.floor(first / WINDOW) * WINDOW, windowSize: WINDOW, count: 3, firstOffset: first, lastOffset: first + 2 };
    if (Math.floor((first + 2) / WINDOW) * WINDOW !== claim.windowStart) throw new Error("the aborted records straddle a window; the test assumes one");
    const plain = f.kafka.producer({ allowAutoTopicCreation: false });
    await plain.connect();
    await plain.send({ topic: talliesTopic, acks: -1, messages: [{ key: `${dataTopic}:0`, value: encodeJson(claim), partition: 0 }] });
    await plain.disconnect();
    await insert(1); // the counter reads past the aborted offsets
    const s = await waitForSummary(counter, "the claimed window to turn into a mismatch", (x) => x.needsAttention.some((w) => w.windowStart === claim.windowStart && w.problems.some((q) => q.includes("emitted offsets not in Kafka"))));
    const w = s.needsAttention.find((x) => x.windowStart === claim.windowStart);
    expect(w?.state).toBe("mismatch");
    expect(w?.problems.join("; ")).toContain(`emitted offsets not in Kafka: ${first}-${first + 2} (the counter has read up to offset`);
    const status = await f.status(counter);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain(`MISMATCH ${dataTopic}[0] offsets ${claim.windowStart}-${claim.windowStart + WINDOW - 1}:`);
  });

  it("a transaction with a record more than its manifest promises is incomplete at once, naming the offsets", async () => {
    const original = await recordOf(210);
    const extra = await injectAccounted(original.key, JSON.stringify(original.envelope));
    const xid = original.envelope.source.xid;
    const incomplete = await pollUntil(
      async () => {
        const body = await counter.api<TransactionsBody>("/api/transactions?state=incomplete");
        return body?.transactions.find((t) => t.xid === xid);
      },
      { timeoutMs: 15_000, what: `transaction ${xid} incomplete` },
    );
    expect(incomplete.problem).toContain(`1 record(s) of public.items more than its manifest promises (1)`);
    expect(incomplete.problem).toContain(`${dataTopic}[0] offsets ${original.offset}, ${extra}`);
  });

  it("a slot moved past the producer's checkpoint: the counter says so, naming both LSNs", async () => {
    const before = await waitForSummary(counter, "the slot checked and found in order", (x) => x.slot.state === "ok");
    expect(before.problems).toEqual([]);
    await producer.stop();
    await src.query(`INSERT INTO items SELECT i, 'lost' FROM generate_series(5001, 5010) i`);
    const moved = await f.sql.query<{ lsn: string }>(`SELECT end_lsn::text AS lsn FROM pg_replication_slot_advance($1, pg_current_wal_lsn()) AS a(slot_name, end_lsn)`, [f.slot]);
    const s = await waitForSummary(counter, "the slot reported ahead of the checkpoint", (x) => x.slot.state === "ahead");
    expect(s.ok).toBe(false);
    expect(s.problems).toHaveLength(1);
    expect(s.problems[0]).toContain(`SLOT_AHEAD_OF_CHECKPOINT: replication slot ${f.slot} is at ${moved.rows[0]?.lsn}`);
    expect(s.slot.aheadBytes).toBeGreaterThan(0);
    await metricReaches(counter, "zeroloss_ledger_slot_ahead_bytes", {}, (v) => v > 0);
    const status = await f.status(counter);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/^PROBLEM: SLOT_AHEAD_OF_CHECKPOINT/);
    expect(status.stdout).toContain(`PROBLEM SLOT_AHEAD_OF_CHECKPOINT: replication slot ${f.slot} is at ${moved.rows[0]?.lsn}`);
  });

  it("a counter that cannot be reached: zeroloss status exits 2", async () => {
    await counter.stop();
    const status = await f.status(counter);
    expect(status.code).toBe(2);
    expect(status.stderr).toContain("COUNTER_UNREACHABLE");
  });
});
