// Snapshot + stream through the real producer process: pre-existing rows, then inserts,
// updates, deletes and a truncate come out as exactly the expected committed records, in
// per-key order, each checksum equal to a recomputation; a TOAST value left unchanged is
// marked unchanged; a column added and dropped mid-stream shows in the following events.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { computeChecksum, type Envelope } from "@zeroloss/wire";
import { parseLsn } from "@zeroloss/pg";
import { producerFixture, waitForRecords, type ProducerFixture, type RunningProducer } from "./harness.js";

const stack = inject("stack");

describe("producer: snapshot, then stream", () => {
  let f: ProducerFixture;
  let producer: RunningProducer;

  beforeAll(async () => {
    f = await producerFixture(stack, "snapstream", { source: { snapshot: { chunkSize: 7 } } });
    await f.sql.query(`CREATE TABLE public.accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance numeric(18,4), note text, opened timestamptz)`);
    await f.sql.query(`CREATE TABLE public."Mixed Case" (k1 int, k2 text, v text, PRIMARY KEY (k1, k2))`);
    await f.sql.query(`INSERT INTO public.accounts SELECT g, 'owner ' || g, g * 1.5, CASE WHEN g % 3 = 0 THEN NULL WHEN g % 3 = 1 THEN '' ELSE 'n' END, '2026-01-01 00:00:00.123456+00'::timestamptz + g * interval '1 second' FROM generate_series(1, 50) g`);
    await f.sql.query(`INSERT INTO public."Mixed Case" VALUES (1, 'a', 'x'), (1, 'b', 'y'), (2, 'a', 'z')`);
    await f.sql.query(`CREATE TABLE public.documents (id int PRIMARY KEY, body text, rev int)`);
    await f.sql.query(`ALTER TABLE public.documents ALTER COLUMN body SET STORAGE EXTERNAL, REPLICA IDENTITY FULL`);
    producer = await f.start();
  });

  afterAll(async () => {
    await producer?.stop();
    await f?.close();
  });

  it("snapshots every pre-existing row once, as op r at the slot's restart LSN (commit LSN: its consistent point), in key chunks", async () => {
    const recs = await waitForRecords(f, "public.accounts", 50, producer);
    expect(recs.map((r) => r.envelope.op)).toEqual(Array(50).fill("r"));
    const ids = recs.map((r) => Number(r.envelope.after?.["id"])).sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const lsns = new Set(recs.map((r) => r.envelope.source.lsn));
    const commitLsns = new Set(recs.map((r) => r.envelope.source.commitLsn));
    expect(lsns.size).toBe(1);
    expect(commitLsns.size).toBe(1);
    const snapshotCheckpoint = (await f.checkpoints()).find((c) => c.phase === "snapshot" && c.snapshot?.floorLsn !== undefined);
    expect([...lsns]).toEqual([snapshotCheckpoint?.snapshot?.floorLsn]);
    expect([...commitLsns]).toEqual([snapshotCheckpoint?.snapshot?.consistentLsn]);
    expect(parseLsn([...lsns][0] ?? "")).toBeLessThan(parseLsn([...commitLsns][0] ?? ""));
    for (const r of recs) {
      expect(r.envelope.checksum).toBe(computeChecksum(r.envelope));
      expect(r.key).toBe(JSON.stringify({ id: r.envelope.after?.["id"] }));
    }
    // NULL, empty string and text stay three different things; timestamps keep microseconds.
    const byId = new Map(recs.map((r) => [r.envelope.after?.["id"], r.envelope]));
    expect(byId.get("3")?.after?.["note"]).toBeNull();
    expect(byId.get("4")?.after?.["note"]).toBe("");
    expect(byId.get("5")?.after?.["note"]).toBe("n");
    expect(byId.get("1")?.after?.["opened"]).toBe("2026-01-01 00:00:01.123456+00");
    expect(byId.get("2")?.after?.["balance"]).toBe("3.0000");
    const mixed = await waitForRecords(f, "public.Mixed Case", 3, producer);
    expect(mixed.map((r) => r.key).sort()).toEqual([`{"k1":"1","k2":"a"}`, `{"k1":"1","k2":"b"}`, `{"k1":"2","k2":"a"}`]);
  });

  it("streams inserts, updates, deletes and a truncate as exactly the expected records, per-key order kept", async () => {
    await f.sql.query(`INSERT INTO public.accounts VALUES (100, 'new', 1.0001, 'x', now())`);
    await f.sql.query(`BEGIN; UPDATE public.accounts SET balance = balance + 1 WHERE id = 100; UPDATE public.accounts SET balance = balance + 1 WHERE id = 100; DELETE FROM public.accounts WHERE id = 1; COMMIT`);
    await f.sql.query(`UPDATE public.accounts SET id = 1000 WHERE id = 2`);
    await f.sql.query(`TRUNCATE public.accounts`);
    await f.sql.query(`INSERT INTO public.accounts VALUES (7, 'after truncate', 0, NULL, NULL)`);
    // 50 r + c(100) + u + u + d(1) + d(2)+c(1000) + 3 t (one per partition) + c(7)
    const recs = await waitForRecords(f, "public.accounts", 50 + 1 + 2 + 1 + 2 + 3 + 1, producer);
    const streamed = recs.filter((r) => r.envelope.op !== "r");
    expect(streamed.length).toBe(10);
    const ops = (key: string) => streamed.filter((r) => r.key === key).sort((a, b) => a.offset - b.offset).map((r) => r.envelope.op);
    expect(ops(`{"id":"100"}`)).toEqual(["c", "u", "u"]);
    expect(ops(`{"id":"1"}`)).toEqual(["d"]);
    expect(ops(`{"id":"2"}`)).toEqual(["d"]);
    expect(ops(`{"id":"1000"}`)).toEqual(["c"]);
    const balances = streamed.filter((r) => r.key === `{"id":"100"}`).sort((a, b) => a.offset - b.offset).map((r) => r.envelope.after?.["balance"]);
    expect(balances).toEqual(["1.0001", "2.0001", "3.0001"]);
    const truncates = streamed.filter((r) => r.envelope.op === "t");
    expect(truncates.map((r) => r.partition).sort()).toEqual([0, 1, 2]);
    for (const r of streamed) {
      if (r.envelope.op !== "t") expect(r.envelope.checksum).toBe(computeChecksum(r.envelope));
    }
    // The truncate follows everything before it and precedes the insert after it, in every partition.
    const byPartition = new Map<number, Envelope[]>();
    for (const r of [...streamed].sort((a, b) => a.offset - b.offset)) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r.envelope]);
    for (const list of byPartition.values()) {
      const lsns = list.map((e) => parseLsn(e.source.commitLsn));
      expect([...lsns].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(lsns);
    }
    // One manifest per source transaction, counting its records.
    const manifests = (await f.manifests()).filter((m) => m.kind === "transaction");
    expect(manifests.map((m) => m.records)).toEqual([1, 3, 2, 3, 1]);
  });

  it("marks a TOAST value an update left unchanged as unchanged, never null", async () => {
    const big = "x".repeat(20_000) + Math.random().toString(36);
    await f.sql.query(`ALTER TABLE public.accounts ALTER COLUMN note SET STORAGE EXTERNAL`);
    await f.sql.query(`INSERT INTO public.accounts VALUES (500, 'toast', 1, $1, NULL)`, [big]);
    await f.sql.query(`UPDATE public.accounts SET balance = 2 WHERE id = 500`);
    const recs = await waitForRecords(f, "public.accounts", 60 + 2, producer);
    const mine = recs.filter((r) => r.key === `{"id":"500"}`).sort((a, b) => a.offset - b.offset);
    expect(mine.map((r) => r.envelope.op)).toEqual(["c", "u"]);
    expect(mine[0]?.envelope.after?.["note"]).toBe(big);
    const update = mine[1]?.envelope;
    expect(update?.unchanged).toEqual(["note"]);
    expect(update?.after).not.toHaveProperty("note");
    expect(update?.after?.["balance"]).toBe("2.0000");
    expect(update?.checksum).toBe(computeChecksum(update as Envelope));
  });

  it("moves a row whose key changed with its unchanged TOAST value filled in (REPLICA IDENTITY FULL)", async () => {
    const big = "y".repeat(20_000) + Math.random().toString(36);
    await f.sql.query(`INSERT INTO public.documents VALUES (1, $1, 1)`, [big]);
    await f.sql.query(`UPDATE public.documents SET id = 2, rev = 2 WHERE id = 1`);
    const recs = await waitForRecords(f, "public.documents", 3, producer);
    const moved = recs.find((r) => r.envelope.op === "c" && r.key === `{"id":"2"}`)?.envelope;
    expect(moved?.unchanged).toBeUndefined();
    expect(moved?.after?.["body"]).toBe(big);
    expect(moved?.checksum).toBe(computeChecksum(moved as Envelope));
    expect(recs.find((r) => r.envelope.op === "d")?.key).toBe(`{"id":"1"}`);
  });

  it("shows a column added and dropped mid-stream in the following events, with valid checksums", async () => {
    await f.sql.query(`ALTER TABLE public.accounts ADD COLUMN tier text DEFAULT 'basic'`);
    await f.sql.query(`INSERT INTO public.accounts (id, owner, tier) VALUES (600, 'tiered', 'gold')`);
    await f.sql.query(`ALTER TABLE public.accounts DROP COLUMN note`);
    await f.sql.query(`INSERT INTO public.accounts (id, owner, tier) VALUES (601, 'no note', 'silver')`);
    const recs = await waitForRecords(f, "public.accounts", 62 + 2, producer);
    const e600 = recs.find((r) => r.key === `{"id":"600"}`)?.envelope;
    const e601 = recs.find((r) => r.key === `{"id":"601"}`)?.envelope;
    expect(e600?.columns.map((c) => c.name)).toEqual(["id", "owner", "balance", "note", "opened", "tier"]);
    expect(e600?.after?.["tier"]).toBe("gold");
    expect(e601?.columns.map((c) => c.name)).toEqual(["id", "owner", "balance", "opened", "tier"]);
    expect(e601?.columns.find((c) => c.name === "balance")?.type).toBe("numeric(18,4)");
    expect(e601?.after).not.toHaveProperty("note");
    for (const e of [e600, e601]) expect(e?.checksum).toBe(computeChecksum(e as Envelope));
  });

  it("acknowledges the slot only up to what Kafka holds, and tallies count records per offset window", async () => {
    const checkpoints = await f.checkpoints();
    const last = checkpoints[checkpoints.length - 1];
    expect(last?.phase).toBe("streaming");
    const flushed = await f.confirmedFlush();
    expect(flushed).not.toBeNull();
    const tallies = (await f.tallies()).filter((t) => t.topic === `${f.prefix}.public.accounts`);
    const records = await f.recordsRaw("public.accounts"); // as Kafka holds them: a bulk snapshot record is one
    const tallied = tallies.reduce((n, t) => n + t.count, 0);
    expect(tallied).toBe(records.length);
    for (const t of tallies) expect(t.lastOffset - t.firstOffset + 1).toBeGreaterThanOrEqual(t.count);
  });
});
