// Merging the plans of several partitions into one target transaction: indexes stay tied to
// their records, and plans that must not share a transaction are refused.
import { describe, expect, it } from "vitest";
import type { Envelope } from "@zeroloss/wire";
import { GroupKeys, mergePlans, type BatchPlan, type StagedRow } from "./batch.js";
import type { TargetTable } from "./target-schema.js";

function table(name: string): TargetTable {
  return { schema: "public", name, quoted: `"public"."${name}"`, columns: [{ name: "id", column: "id", type: "integer" }], keyIndexes: [0], columnsJson: "[]" };
}

const A = table("a");
const B = table("b");

function row(index: number, key: string, filledFrom: number | null = null): StagedRow {
  return { index, key, env: { op: "u" } as Envelope, values: [key], unchanged: null, absent: null, keep: null, filledFrom, last: true };
}

/** A plan of `n` records; `rows` are [table, index, key, filledFrom?]. */
function plan(n: number, rows: [TargetTable, number, string, number?][], opts: { malformed?: number[]; truncate?: TargetTable; bulk?: [TargetTable, number] } = {}): BatchPlan {
  const steps: BatchPlan["steps"][number][] = [];
  if (opts.bulk !== undefined) {
    const env = { op: "r", rows: { count: 1, copy: "x\n" } } as Envelope & { rows: { count: number; copy: string } };
    steps.push({ kind: "bulk", table: opts.bulk[0], records: [{ index: opts.bulk[1], env }] });
  }
  for (const t of [A, B]) {
    const mine = rows.filter((r) => r[0] === t).map(([, i, k, from]) => row(i, k, from ?? null));
    if (mine.length > 0) steps.push({ kind: "rows", table: t, rows: mine });
  }
  if (opts.truncate !== undefined) steps.push({ kind: "truncate", table: opts.truncate, index: n - 1, lsn: "0/10" });
  return {
    records: Array.from({ length: n }, (_, i) => ({ offset: String(100 + i), key: null, value: null })),
    envelopes: Array.from({ length: n }, () => null),
    malformed: (opts.malformed ?? []).map((index) => ({ index, code: "WIRE_NOT_JSON", reason: "not JSON", table: null })),
    steps,
  };
}

describe("mergePlans", () => {
  it("puts the records one after the other and shifts every index by its plan's base", () => {
    const p1 = plan(3, [[A, 0, "1"], [B, 1, "x"], [A, 2, "2", 0]]);
    const p2 = plan(2, [[A, 0, "3"], [A, 1, "4", 0]], { malformed: [] });
    const p3 = plan(2, [[B, 1, "y"]], { malformed: [0] });
    const { plan: m, bases } = mergePlans([p1, p2, p3]);
    expect(bases).toEqual([0, 3, 5]);
    expect(m.records).toHaveLength(7);
    expect(m.records[3]).toBe(p2.records[0]);
    expect(m.malformed.map((x) => x.index)).toEqual([5]);
    expect(m.steps.map((s) => (s.kind === "rows" ? [s.table.name, s.rows.map((r) => [r.index, r.key, r.filledFrom])] : s.kind))).toEqual([
      ["a", [[0, "1", null], [2, "2", 0], [3, "3", null], [4, "4", 3]]],
      ["b", [[1, "x", null], [6, "y", null]]],
    ]);
    // The plans themselves are unchanged.
    expect(p2.steps[0]?.kind === "rows" && p2.steps[0].rows.map((r) => r.index)).toEqual([0, 1]);
  });

  it("returns a single plan as it is", () => {
    const p = plan(2, [[A, 0, "1"]]);
    expect(mergePlans([p])).toEqual({ plan: p, bases: [0] });
  });

  it("refuses a plan with a truncate among others", () => {
    expect(() => mergePlans([plan(1, [[A, 0, "1"]]), plan(1, [], { truncate: A })])).toThrow(/truncate of "public"."a"/);
  });
});

describe("GroupKeys", () => {
  it("takes plans whose keys do not meet, per table", () => {
    const g = new GroupKeys();
    expect(g.join(plan(2, [[A, 0, "1"], [B, 1, "1"]]))).toBe(true);
    expect(g.join(plan(1, [[A, 0, "2"]]))).toBe(true);
    expect(g.join(plan(1, [[B, 0, "2"]]))).toBe(true); // key 2 of another table
    expect(g.join(plan(2, [[A, 0, "3"], [A, 1, "1"]]))).toBe(false); // key 1 of a is taken
    expect(g.join(plan(1, [[A, 0, "3"]]))).toBe(true); // the refused plan added nothing
  });

  it("keeps a bulk record's table to its own plan: its keys are not known", () => {
    const g = new GroupKeys();
    expect(g.join(plan(1, [], { bulk: [A, 0] }))).toBe(true);
    expect(g.join(plan(1, [[A, 0, "1"]]))).toBe(false);
    expect(g.join(plan(1, [], { bulk: [A, 0] }))).toBe(false);
    expect(g.join(plan(1, [[B, 0, "1"]]))).toBe(true);
    const h = new GroupKeys();
    expect(h.join(plan(1, [[A, 0, "1"]]))).toBe(true);
    expect(h.join(plan(1, [], { bulk: [A, 0] }))).toBe(false);
    expect(h.join(plan(1, [], { bulk: [B, 0] }))).toBe(true);
  });

  it("lets a plan with bulk records and single rows of one table in only alone: merging would not keep their order", () => {
    const mixed = plan(3, [[A, 2, "1"]], { bulk: [A, 0] });
    const g = new GroupKeys();
    expect(g.join(plan(1, [[B, 0, "1"]]))).toBe(true);
    expect(g.join(mixed)).toBe(false);
    const h = new GroupKeys();
    expect(h.join(mixed)).toBe(true);
    expect(h.join(plan(1, [[B, 0, "1"]]))).toBe(false);
    // Bulk records of one table and single rows of another do not need to be alone.
    const k = new GroupKeys();
    expect(k.join(plan(2, [[B, 1, "1"]], { bulk: [A, 0] }))).toBe(true);
    expect(k.join(plan(1, [[B, 0, "2"]]))).toBe(true);
  });

  it("merges bulk steps as their own steps, indexes shifted", () => {
    const { plan: m } = mergePlans([plan(2, [[A, 0, "1"]]), plan(2, [], { bulk: [B, 1] })]);
    expect(m.steps.map((s) => [s.kind, s.table.name, s.kind === "bulk" ? s.records.map((r) => r.index) : null])).toEqual([
      ["rows", "a", null],
      ["bulk", "b", [3]],
    ]);
  });

  it("lets a truncating plan in only alone", () => {
    const first = new GroupKeys();
    expect(first.join(plan(2, [[A, 0, "1"]], { truncate: A }))).toBe(true);
    expect(first.join(plan(1, [[B, 0, "9"]]))).toBe(false);
    const second = new GroupKeys();
    expect(second.join(plan(1, [[B, 0, "9"]]))).toBe(true);
    expect(second.join(plan(2, [[A, 0, "1"]], { truncate: A }))).toBe(false);
  });
});
