import { describe, expect, it } from "vitest";
import type { TableReport } from "@zeroloss/wire";
import { formatReport, overall } from "./report.js";

const table = (t: Partial<TableReport>): TableReport => ({
  table: "public.t",
  result: "equal",
  sourceRows: 0,
  targetRows: 0,
  rowsCompared: 0,
  driftRows: 0,
  inFlight: 0,
  durationMs: 0,
  problems: [],
  notes: [],
  rows: [],
  ...t,
});

describe("verifier report", () => {
  it("any error outweighs drift, any drift outweighs equal", () => {
    expect(overall([table({}), table({})])).toBe("equal");
    expect(overall([table({}), table({ result: "drift" })])).toBe("drift");
    expect(overall([table({ result: "drift" }), table({ result: "error" })])).toBe("error");
  });

  it("shows NULL apart from an empty string, and says how many rows were left out", () => {
    const text = formatReport({
      result: "drift",
      startedAt: "",
      finishedAt: "",
      durationMs: 1500,
      passes: 1,
      tables: [
        table({
          result: "drift",
          sourceRows: 3,
          targetRows: 3,
          driftRows: 5,
          rows: [{ key: { id: "7" }, kind: "changed", settled: true, columns: [{ column: "ref", source: null, target: "" }] }],
        }),
      ],
    });
    expect(text).toContain("DRIFT: 1 table(s) compared by content in 1.5 s");
    expect(text).toContain('ref: source NULL, target ""');
    expect(text).toContain("... and 4 more");
  });
});
