import { describe, expect, it } from "vitest";
import { cutoverProblems } from "./cutover-claims.js";
import type { CutoverRecord } from "./types.js";

const counts = { emitted: 10, transferred: 10, applied: 9, duplicate: 1, quarantined: 0 };

function proven(over: Partial<CutoverRecord> = {}): CutoverRecord {
  return {
    fence: { mode: "read-only", roles: ["app"], lsn: "0/3000000", at: "2026-12-06T00:00:00Z", held: true },
    drainedAt: "2026-12-06T00:00:05Z",
    counter: { records: counts, rows: { ...counts, emitted: 20, transferred: 20, applied: 19 }, windows: { balanced: 3, open: 1, behind: 0 }, transactions: { applied: 7, pending: 0 } },
    quarantined: 0,
    verifier: { result: "equal", passes: 1, durationMs: 100, tables: 2, rowsCompared: 30, driftRows: 0 },
    sequences: [{ sequence: "public.s", ownedBy: null, sourceNext: "5", targetBefore: "1", targetAfter: "5", action: "set" }],
    constraints: [{ table: "public.c", constraint: "c_p_fkey", references: "public.p", orphans: 0, valid: true }],
    ...over,
  };
}

describe("cutoverProblems", () => {
  it("finds none when every claim holds", () => {
    expect(cutoverProblems(proven())).toEqual([]);
  });

  it.each([
    ["a fence that did not hold", { fence: { mode: "wait" as const, roles: [], lsn: "0/3000000", at: "2026-12-06T00:00:00Z", held: false } }, "writes reached the source's tables after the fence at 0/3000000: the cut is not consistent"],
    ["a quarantined record", { quarantined: 1 }, "1 record(s) in the target's zeroloss.quarantine"],
    ["records emitted but not in Kafka", { counter: { ...proven().counter, records: { ...counts, transferred: 9 } } }, "records: 10 emitted but 9 found in Kafka"],
    ["records written short", { counter: { ...proven().counter, records: { ...counts, applied: 8 } } }, "records: 10 emitted but 9 written (applied 8, duplicate 1, quarantined 0)"],
    ["a window behind", { counter: { ...proven().counter, windows: { behind: 2 } } }, "the counter has 2 window(s) in behind"],
    ["a transaction complete but not applied", { counter: { ...proven().counter, transactions: { complete: 1 } } }, "the counter has 1 source transaction(s) complete but not applied"],
    ["drift", { verifier: { ...proven().verifier, result: "drift" as const, driftRows: 4 } }, "the verifier found 4 row(s) that differ"],
    ["a sequence missing on the target", { sequences: [{ sequence: "public.s", ownedBy: null, sourceNext: "5", targetBefore: null, targetAfter: null, action: "missing on target" }] }, "sequence public.s: missing on target"],
    ["an orphan row", { constraints: [{ table: "public.c", constraint: "c_p_fkey", references: "public.p", orphans: 3, valid: false }] }, "constraint c_p_fkey on public.c: 3 row(s) without the public.p row they reference"],
  ])("names %s", (_what, over, problem) => {
    expect(cutoverProblems(proven(over as Partial<CutoverRecord>))).toEqual([problem]);
  });
});
