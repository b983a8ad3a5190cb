// The ledger's rows beside its records, in a real PostgreSQL (the ledger's own rules are SQL):
// batches of data records, emitted and written tallies are written as the counter writes
// them (deltas.ts → ledger.ts), then read as the summary reads them (summary.ts).
//   - bulk records of many rows, one of them quarantined alone: the rows add up, the window
//     is in attention (one record, one row quarantined), not in mismatch;
//   - a tally claiming more rows than its record holds, once the counter has read it: a
//     proven mismatch, named in rows;
//   - tallies without rows (services before 2026-12): one row per record, and a window they
//     counted in does not compare rows (a bulk record there held many): no false alarm.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@zeroloss/devstack";
import { connect, type Client } from "@zeroloss/pg";
import { encodeJson, type Tally } from "@zeroloss/wire";
import { addDataRecords, addTallyRecords, emptyDeltas } from "../../services/counter/src/deltas.js";
import { ensureLedger, storedPositions, writeBatch } from "../../services/counter/src/ledger.js";
import { summary } from "../../services/counter/src/summary.js";

const WINDOW = 100;
const SLOT = { state: "off", slot: "s", detail: null, aheadBytes: 0, checkedAt: null } as const;

/** A data record's value as the counter reads it: the source block, and rows.count for a bulk record. */
const record = (offset: number, rows: number | null) => ({
  offset: String(offset),
  value: Buffer.from(
    JSON.stringify({
      v: 1,
      op: "r",
      source: { db: "d", schema: "public", table: "t", lsn: "0/1", commitLsn: "0/2", xid: null, commitTime: `2026-12-06T00:00:00.${String(offset).padStart(6, "0")}Z`, seq: 0 },
      ...(rows === null ? {} : { rows: { count: rows, copy: "" } }),
    }),
  ),
});

const tally = (t: Omit<Tally, "v" | "windowSize" | "windowStart">) => ({ offset: "0", value: encodeJson({ v: 1, windowSize: WINDOW, windowStart: Math.floor(t.firstOffset / WINDOW) * WINDOW, ...t }) });

describe("the ledger counts rows as well as records", () => {
  let ledger: TestDatabase;
  let db: Client;

  beforeAll(async () => {
    ledger = await createTestDatabase(inject("stack").target, "ledger_rows");
    db = await connect(ledger.url, { applicationName: "ledger-rows-test" });
    await ensureLedger(db);
  });

  afterAll(async () => {
    await db?.end();
    await ledger?.drop();
  });

  /** One ledger transaction: the data records of `topic`[0] up to `readTo`, and the tallies. */
  const write = async (topic: string, data: ReturnType<typeof record>[], tallies: ReturnType<typeof tally>[], readTo: number) => {
    const d = emptyDeltas();
    addDataRecords(d, topic, 0, data, WINDOW);
    addTallyRecords(d, tallies, WINDOW);
    await db.query("BEGIN");
    await storedPositions(db, [{ topic, partition: 0 }]);
    await writeBatch(db, { positions: [{ topic, partition: 0, nextOffset: BigInt(readTo), highWatermark: BigInt(readTo) }], windowSize: WINDOW, deltas: d });
    await db.query("COMMIT");
  };
  const windowOf = async (topic: string) => (await summary(db, 60, SLOT)).needsAttention.find((w) => w.topic === topic);

  it("adds up bulk records' rows; bad rows of a bulk record are quarantined rows, and the window is in attention", async () => {
    await write(
      "zl.public.bulk",
      [record(0, 300), record(1, 300), record(2, null)],
      [
        tally({ stage: "emitted", topic: "zl.public.bulk", partition: 0, count: 3, rows: 601, firstOffset: 0, lastOffset: 2 }),
        tally({
          stage: "written",
          topic: "zl.public.bulk",
          partition: 0,
          count: 3,
          firstOffset: 0,
          lastOffset: 2,
          after: 0,
          detail: { applied: 2, duplicate: 0, quarantined: 1 },
          rows: 601,
          rowDetail: { applied: 599, duplicate: 0, quarantined: 2 },
        }),
      ],
      3,
    );
    const s = await summary(db, 60, SLOT);
    expect(s.totals.rows).toEqual({ emitted: 601, transferred: 601, applied: 599, duplicate: 0, quarantined: 2 });
    expect(s.totals).toMatchObject({ emitted: 3, transferred: 3, applied: 2, quarantined: 1 });
    const w = await windowOf("zl.public.bulk");
    expect(w?.state).toBe("attention");
    expect(w?.rows).toEqual(s.totals.rows);
    expect(w?.rowsExact).toBe(true);
    expect(w?.problems).toEqual(["1 record(s) quarantined (2 rows) (zeroloss.quarantine in the target, and the DLQ topic)"]);
    expect(s.partitions.find((p) => p.topic === "zl.public.bulk")?.rows).toEqual({ emitted: 601, transferred: 601, written: 601 });
  });

  it("proves a mismatch when a tally claims more rows than the records the counter read hold", async () => {
    await write("zl.public.short", [record(0, 300)], [tally({ stage: "emitted", topic: "zl.public.short", partition: 0, count: 1, rows: 500, firstOffset: 0, lastOffset: 0 })], 1);
    const w = await windowOf("zl.public.short");
    expect(w?.state).toBe("mismatch");
    expect(w?.problems).toContain("the producer emitted 500 rows in 1 records, the same records in Kafka hold 300 rows");
  });

  it("is behind, not in mismatch, while the counter has not read the records a tally claims rows for", async () => {
    await write("zl.public.early", [], [tally({ stage: "emitted", topic: "zl.public.early", partition: 0, count: 1, rows: 500, firstOffset: 0, lastOffset: 0 })], 0);
    expect((await windowOf("zl.public.early"))?.state).toBe("behind");
    await write("zl.public.early", [record(0, 500)], [], 1);
    const w = await windowOf("zl.public.early");
    expect(w?.state).toBe("behind"); // in Kafka, not written yet
    expect(w?.problems).toEqual(["behind: 1 of 1 records in Kafka not reported written yet (nothing written yet): offsets 0"]);
    const written = { stage: "written", topic: "zl.public.early", partition: 0, count: 1, firstOffset: 0, lastOffset: 0, after: 0 } as const;
    await write("zl.public.early", [], [tally({ ...written, detail: { applied: 1, duplicate: 0, quarantined: 0 }, rows: 500, rowDetail: { applied: 500, duplicate: 0, quarantined: 0 } })], 1);
    expect(await windowOf("zl.public.early")).toBeUndefined(); // balanced (and open): nothing to attend to
  });

  it("does not compare rows in a window where a service before 2026-12 tallied a bulk record (no false alarm across an upgrade)", async () => {
    const old = { topic: "zl.public.mixed", partition: 0, count: 1, firstOffset: 0, lastOffset: 0 } as const;
    await write(
      "zl.public.mixed",
      [record(0, 300)],
      [tally({ ...old, stage: "emitted" }), tally({ ...old, stage: "written", after: 0, detail: { applied: 1, duplicate: 0, quarantined: 0 } })],
      1,
    );
    expect(await windowOf("zl.public.mixed")).toBeUndefined(); // balanced: records agree, rows unknown
    const s = await summary(db, 60, SLOT);
    expect(s.partitions.find((p) => p.topic === "zl.public.mixed")?.rows).toEqual({ emitted: 1, transferred: 300, written: 1 });
  });

  it("counts one row per record for tallies without rows (services before 2026-12)", async () => {
    await write(
      "zl.public.old",
      [record(0, null), record(1, null)],
      [
        tally({ stage: "emitted", topic: "zl.public.old", partition: 0, count: 2, firstOffset: 0, lastOffset: 1 }),
        tally({ stage: "written", topic: "zl.public.old", partition: 0, count: 2, firstOffset: 0, lastOffset: 1, after: 0, detail: { applied: 2, duplicate: 0, quarantined: 0 } }),
      ],
      2,
    );
    expect(await windowOf("zl.public.old")).toBeUndefined();
    const s = await summary(db, 60, SLOT);
    expect(s.partitions.find((p) => p.topic === "zl.public.old")?.rows).toEqual({ emitted: 2, transferred: 2, written: 2 });
  });
});
