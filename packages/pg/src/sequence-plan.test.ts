import { describe, expect, it } from "vitest";
import { chooseSequences, nextValue, planSequenceSync, sequenceSyncErrors, type SequenceFacts, type SequenceReading } from "./sequence-plan.js";

const BIGINT_MAX = 9223372036854775807n;

function facts(name: string, over: Partial<SequenceFacts> = {}): SequenceFacts {
  return { schema: "public", name, increment: 1n, min: 1n, max: BIGINT_MAX, ownedBy: null, usedBy: [], ...over };
}

function reading(name: string, lastValue: bigint, isCalled: boolean, over: Partial<SequenceReading> = {}): SequenceReading {
  return { ...facts(name), lastValue, isCalled, ...over };
}

const owned = (table: string, column = "id") => ({ ownedBy: { table: { schema: "public", name: table }, column } });

describe("chooseSequences", () => {
  const all = [
    facts("orders_id_seq", owned("orders")),
    facts("items_id_seq", owned("items")), // identity or serial of a replicated table
    facts("audit_id_seq", owned("audit")), // its table is excluded: left out, though public.* matches its name
    facts("shared_no", { ...owned("audit", "no"), usedBy: [{ schema: "public", name: "orders" }] }), // owned elsewhere, drawn by a replicated table's default
    facts("ticket_no"), // standalone, matched by public.*
    facts("scratch_seq"), // standalone, excluded by name
    facts("other_seq", { schema: "billing" }), // standalone in a schema no pattern covers
  ];
  const tables = [
    { schema: "public", name: "orders" },
    { schema: "public", name: "items" },
  ];

  it("takes the replicated tables' owned and default sequences and the standalone ones the patterns match, no other", () => {
    const chosen = chooseSequences(all, tables, ["public.*"], ["public.audit", "public.scratch_seq"]).map((s) => s.name);
    expect(chosen).toEqual(["orders_id_seq", "items_id_seq", "shared_no", "ticket_no"]);
  });

  it("without patterns: only what belongs to the tables (the target's own sequences of the replicated tables)", () => {
    expect(chooseSequences(all, tables, [], []).map((s) => s.name)).toEqual(["orders_id_seq", "items_id_seq", "shared_no"]);
  });
});

describe("nextValue", () => {
  it("is last_value for a sequence never called, last_value + increment once called, either direction", () => {
    expect(nextValue({ lastValue: 1n, isCalled: false, increment: 1n })).toBe(1n);
    expect(nextValue({ lastValue: 41n, isCalled: true, increment: 1n })).toBe(42n);
    expect(nextValue({ lastValue: -10n, isCalled: true, increment: -5n })).toBe(-15n);
  });
});

describe("planSequenceSync", () => {
  it("sets a target behind to the source's next value, and with a margin past it", () => {
    const source = [reading("a_seq", 41n, true, owned("a"))];
    const target = [reading("a_seq", 1n, false)];
    const plan = planSequenceSync(source, target, 0n);
    expect(plan.rows).toEqual([{ schema: "public", name: "a_seq", ownedBy: "public.a.id", sourceNext: 42n, targetNext: 1n, newTargetNext: 42n, action: "set", note: null }]);
    expect(planSequenceSync(source, target, 1000n).rows[0]).toMatchObject({ newTargetNext: 1042n, action: "set" });
    expect(sequenceSyncErrors(plan)).toEqual([]);
  });

  it("never moves a target back: equal is in sync, past the value to set is already ahead (margin counted)", () => {
    const source = [reading("a_seq", 41n, true)];
    expect(planSequenceSync(source, [reading("a_seq", 41n, true)], 0n).rows[0]).toMatchObject({ targetNext: 42n, newTargetNext: 42n, action: "in sync" });
    expect(planSequenceSync(source, [reading("a_seq", 42n, false)], 0n).rows[0]).toMatchObject({ action: "in sync" });
    const ahead = planSequenceSync(source, [reading("a_seq", 999n, true)], 0n).rows[0];
    expect(ahead).toMatchObject({ targetNext: 1000n, newTargetNext: 1000n, action: "already ahead" });
    expect(ahead?.note).toContain("958 past");
    // The margin asks for more than the target has: it is set.
    expect(planSequenceSync(source, [reading("a_seq", 999n, true)], 5000n).rows[0]).toMatchObject({ newTargetNext: 5042n, action: "set" });
  });

  it("a sequence the source never called: the target's next value becomes its start", () => {
    const plan = planSequenceSync([reading("a_seq", 1n, false)], [reading("a_seq", 1n, false)], 0n);
    expect(plan.rows[0]).toMatchObject({ sourceNext: 1n, action: "in sync" });
  });

  it("descending sequences: ahead is lower, the margin goes down", () => {
    const down = { increment: -1n, min: -1000n, max: -1n };
    const source = [reading("d_seq", -50n, true, down)];
    expect(planSequenceSync(source, [reading("d_seq", -1n, false, down)], 10n).rows[0]).toMatchObject({ sourceNext: -51n, newTargetNext: -61n, action: "set" });
    expect(planSequenceSync(source, [reading("d_seq", -70n, true, down)], 0n).rows[0]).toMatchObject({ targetNext: -71n, action: "already ahead" });
  });

  it("missing on the target: reported with its owner, an error naming it, nothing to set", () => {
    const plan = planSequenceSync([reading("a_seq", 5n, true, owned("a")), reading("b_seq", 5n, true)], [reading("b_seq", 1n, false)], 0n);
    expect(plan.rows.map((r) => [r.name, r.action])).toEqual([
      ["a_seq", "missing on target"],
      ["b_seq", "set"],
    ]);
    expect(plan.rows[0]).toMatchObject({ targetNext: null, newTargetNext: null });
    const errors = sequenceSyncErrors(plan);
    expect(errors.map((e) => e.code)).toEqual(["SEQUENCE_MISSING_ON_TARGET"]);
    expect(errors[0]?.message).toContain("public.a_seq (owned by public.a.id)");
    expect(errors[0]?.message).not.toContain("b_seq");
  });

  it("a target sequence of the replicated tables the source lacks: not on source, left as it is, no error", () => {
    const plan = planSequenceSync([], [reading("t_only_seq", 7n, true, owned("a", "n"))], 0n);
    expect(plan.rows).toEqual([
      { schema: "public", name: "t_only_seq", ownedBy: "public.a.n", sourceNext: null, targetNext: 8n, newTargetNext: 8n, action: "not on source", note: expect.stringContaining("no sequence of this name") },
    ]);
    expect(sequenceSyncErrors(plan)).toEqual([]);
  });

  it("a value beyond the target's bounds (an int sequence, the source's bigint) is out of range, an error, not clamped", () => {
    const source = [reading("a_seq", 2147483647n, true)];
    const plan = planSequenceSync(source, [reading("a_seq", 1n, false, { max: 2147483647n })], 0n);
    expect(plan.rows[0]).toMatchObject({ sourceNext: 2147483648n, newTargetNext: null, action: "out of range" });
    const errors = sequenceSyncErrors(plan);
    expect(errors.map((e) => e.code)).toEqual(["SEQUENCE_OUT_OF_RANGE"]);
    expect(errors[0]?.message).toContain('ALTER SEQUENCE "public"."a_seq" AS bigint');
  });

  it("sorts by schema and name, whatever order the catalogs gave", () => {
    const plan = planSequenceSync([reading("b", 1n, true), reading("a", 1n, true, { schema: "z" }), reading("a", 1n, true)], [reading("b", 1n, true), reading("a", 1n, true, { schema: "z" }), reading("a", 1n, true)], 0n);
    expect(plan.rows.map((r) => `${r.schema}.${r.name}`)).toEqual(["public.a", "public.b", "z.a"]);
  });
});
