import { describe, expect, it } from "vitest";
import { encodeJson, type Tally } from "@zeroloss/wire";
import { addDataRecords, addManifestRecords, addTally, addTallyRecords, emptyDeltas, multirange } from "./deltas.js";

const env = (commitLsn: string, table = "t") =>
  Buffer.from(JSON.stringify({ v: 1, op: "c", source: { db: "src", schema: "public", table, lsn: commitLsn, commitLsn, xid: 7, commitTime: "2026-11-21 10:00:00.000001+00", seq: 0 } }));

describe("counter deltas", () => {
  it("counts data records per window (not offset differences), keeps their offset runs, and groups them by transaction", () => {
    const d = emptyDeltas();
    // Offsets 8, 9, 11 (10 is a commit marker), 12 in window 10.
    addDataRecords(d, "p.public.t", 2, [8, 9, 11, 12].map((o) => ({ offset: String(o), value: env("0/10") })), 10);
    const w0 = d.windows.get("p.public.t\u00002\u00000");
    const w1 = d.windows.get("p.public.t\u00002\u000010");
    expect(w0).toMatchObject({ transferred: 2, transferredRanges: [[8, 10]] });
    expect(w1).toMatchObject({ transferred: 2, transferredRanges: [[11, 13]] });
    expect(multirange(w1?.transferredRanges ?? [])).toBe("{[11,13)}");
    const txn = [...d.transactions.values()];
    expect(txn).toHaveLength(1);
    expect(txn[0]).toMatchObject({ commitLsn: "0/10", xid: 7, seen: { "public.t": 4 }, offsets: { "p.public.t:2": [[8, 10], [11, 13]] } });
  });

  it("counts a record that is no envelope as transferred and names it", () => {
    const d = emptyDeltas();
    addDataRecords(d, "p.public.t", 0, [{ offset: "3", value: Buffer.from("not json") }], 10);
    expect(d.windows.get("p.public.t\u00000\u00000")?.transferred).toBe(1);
    expect(d.rejected).toEqual([{ offset: "3", reason: "not JSON" }]);
    expect(d.transactions.size).toBe(0);
  });

  it("keeps replayed written tallies apart from the first count, and rejects a tally of another window size", () => {
    const d = emptyDeltas();
    const base: Tally = { v: 1, stage: "written", topic: "p.public.t", partition: 0, windowStart: 0, windowSize: 10, count: 4, firstOffset: 0, lastOffset: 3, detail: { applied: 3, duplicate: 1, quarantined: 0 } };
    addTallyRecords(
      d,
      [base, { ...base, replay: true }, { ...base, windowSize: 20 }, { ...base, stage: "emitted", detail: undefined }].map((t, i) => ({ offset: String(i), value: encodeJson(t as Tally) })),
      10,
    );
    expect(d.rejected).toHaveLength(1);
    expect(d.rejected[0]?.reason).toContain("tallies.windowSize is 10");
    for (const t of d.tallies) addTally(d, t);
    expect(d.windows.get("p.public.t\u00000\u00000")).toMatchObject({ emitted: 4, applied: 3, duplicate: 1, quarantined: 0, replayRecords: 4, replayTallies: 1, writtenRanges: [[0, 4]], emittedRanges: [[0, 4]] });
  });

  it("puts the offsets a written tally passed over into the windows they lie in, earlier ones too", () => {
    const d = emptyDeltas();
    const t: Tally = { v: 1, stage: "written", topic: "p.public.t", partition: 1, windowStart: 20, windowSize: 10, count: 2, firstOffset: 24, lastOffset: 25, after: 17, detail: { applied: 2, duplicate: 0, quarantined: 0 } };
    addTally(d, t);
    expect(d.windows.get("p.public.t\u00001\u000010")).toMatchObject({ skippedRanges: [[17, 20]], writtenRanges: [], applied: 0 });
    expect(d.windows.get("p.public.t\u00001\u000020")).toMatchObject({ skippedRanges: [[20, 24]], writtenRanges: [[24, 26]], applied: 2 });
    const adjacent = emptyDeltas();
    addTally(adjacent, { ...t, after: 24 });
    expect(adjacent.windows.get("p.public.t\u00001\u000020")?.skippedRanges).toEqual([]);
  });

  it("reads a manifest into its transaction, the same key its records have", () => {
    const d = emptyDeltas();
    addDataRecords(d, "p.public.t", 0, [{ offset: "0", value: env("0/20") }], 10);
    const manifest = { v: 1, kind: "transaction", db: "src", xid: 7, commitLsn: "0/20", commitTime: "2026-11-21 10:00:00.000001+00", events: { "public.t": 1 }, records: 1, hash: "00", bounds: { "p.public.t:0": 1 } };
    addManifestRecords(d, [{ offset: "0", value: Buffer.from(JSON.stringify(manifest)) }, { offset: "1", value: Buffer.from("{}") }]);
    expect(d.transactions.size).toBe(1);
    expect([...d.transactions.values()][0]).toMatchObject({ kind: "transaction", seen: { "public.t": 1 }, manifest: { records: 1 } });
    expect(d.rejected.map((r) => r.offset)).toEqual(["1"]);
    expect([...d.manifestBounds]).toEqual([["p.public.t:0", 1]]);
  });
});
