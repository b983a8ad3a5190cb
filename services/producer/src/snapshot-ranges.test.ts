// Key ranges of the parallel snapshot: how many, how a checkpoint's progress becomes ranges
// (old checkpoints included), and the chunk query's bounds.
import { describe, expect, it } from "vitest";
import type { TableInfo } from "@zeroloss/pg";
import { rangeCount, rangesOf, TableRanges } from "./snapshot-ranges.js";


function table(keyColumns: string[]): TableInfo {
  return {
    schema: "public",
    name: "t",
    oid: 1,
    estimatedRows: 100,
    keyColumns,
    columns: [
      { name: "v", sqlType: "text", typeOid: 25, typeMod: -1, attnum: 1 },
      { name: "b", sqlType: "text", typeOid: 25, typeMod: -1, attnum: 2 },
      { name: "a", sqlType: "integer", typeOid: 23, typeMod: -1, attnum: 3 },
    ],
  } as unknown as TableInfo;
}

describe("rangeCount", () => {
  it("gives every worker ranges, none much smaller than a chunk, and one range to a small table", () => {
    expect(rangeCount(0, 10_000, 2)).toBe(1);
    expect(rangeCount(5_000, 10_000, 2)).toBe(1);
    expect(rangeCount(1_000_000, 10_000, 2)).toBe(8);
    expect(rangeCount(50_000, 10_000, 8)).toBe(5);
  });
});

describe("rangesOf", () => {
  it("leaves a table not begun to be planned, and resumes a checkpoint without ranges as one range", () => {
    expect(rangesOf({ done: false, lastKey: null, rows: 0 })).toBeNull();
    expect(rangesOf({ done: false, lastKey: ["42"], rows: 42 })).toEqual([{ after: null, to: null, lastKey: ["42"], done: false, rows: 42 }]);
    expect(rangesOf({ done: true, lastKey: null, rows: 0 })).toEqual([{ after: null, to: null, lastKey: null, done: true, rows: 0 }]);
    const ranges = [{ after: null, to: ["5"], lastKey: ["3"], done: false, rows: 3 }];
    expect(rangesOf({ done: false, lastKey: null, rows: 3, ranges })).toEqual(ranges);
  });
});

describe("TableRanges.chunkCopy", () => {
  it("reads after the last key (or the lower bound) up to the upper bound, in key order, the key's columns in its own order", () => {
    const r = new TableRanges(table(["a", "b"]));
    expect(r.keyIndexes).toEqual([2, 1]);
    const first = r.chunkCopy({ after: null, to: ["10", "x"], lastKey: null, done: false, rows: 0 }, 500);
    expect(first).toContain(`WHERE ROW("a", "b") <= ROW('10'::integer, 'x'::text) ORDER BY "a", "b" LIMIT 500) TO STDOUT`);
    expect(first).not.toContain(" > ROW(");
    const resumed = r.chunkCopy({ after: ["1", "o'k"], to: null, lastKey: ["7", "it's"], done: false, rows: 9 }, 500);
    expect(resumed).toContain(`WHERE ROW("a", "b") > ROW('7'::integer, 'it''s'::text) ORDER BY`);
    expect(resumed).not.toContain("<=");
    expect(resumed).toMatch(/^COPY \(SELECT encode\(sha256\(/);
  });
});
