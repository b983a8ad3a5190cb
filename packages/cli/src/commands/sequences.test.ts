import { describe, expect, it } from "vitest";
import { planSequenceSync, sequenceSyncErrors, type SequenceReading } from "@zeroloss/pg";
import { formatSequenceReport, parseMargin, sequenceReportJson } from "./sequences.js";

const reading = (name: string, lastValue: bigint, isCalled: boolean, table?: string): SequenceReading => ({
  schema: "public",
  name,
  increment: 1n,
  min: 1n,
  max: 9223372036854775807n,
  ownedBy: table === undefined ? null : { table: { schema: "public", name: table }, column: "id" },
  usedBy: [],
  lastValue,
  isCalled,
});

describe("the sequences sync report", () => {
  const plan = planSequenceSync(
    [reading("orders_id_seq", 9007199254740993n, true, "orders"), reading("late_id_seq", 1n, false, "late")],
    [reading("orders_id_seq", 1n, false)],
    0n,
  );
  const result = { plan, applied: false, errors: sequenceSyncErrors(plan) };

  it("as text: a row per sequence, numbers aligned; a set not applied reads 'would set'", () => {
    const text = formatSequenceReport(result, "src", "tgt", false);
    expect(text).toMatch(/^public\.late_id_seq +public\.late\.id +1 +- +-  missing on target: /m);
    expect(text).toMatch(/^public\.orders_id_seq +public\.orders\.id +9007199254740994 +1 +9007199254740994  would set$/m);
    expect(text).toContain("nothing was set");
  });

  it("as JSON: values as strings (past 2^53 they would not survive as numbers), the errors with their codes", () => {
    const json = JSON.parse(sequenceReportJson(result, "src", "tgt", false)) as { ok: boolean; sequences: { sequence: string; sourceNext: string | null }[]; errors: { code: string }[] };
    expect(json.ok).toBe(false);
    expect(json.sequences.map((s) => [s.sequence, s.sourceNext])).toEqual([
      ["public.late_id_seq", "1"],
      ["public.orders_id_seq", "9007199254740994"],
    ]);
    expect(json.errors.map((e) => e.code)).toEqual(["SEQUENCE_MISSING_ON_TARGET"]);
  });

  it("--margin takes whole numbers only", () => {
    expect(parseMargin("1000")).toBe(1000n);
    expect(() => parseMargin("-1")).toThrow(/whole number/);
    expect(() => parseMargin("1.5")).toThrow(/whole number/);
  });
});
