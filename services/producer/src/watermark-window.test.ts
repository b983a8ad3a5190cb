// The watermark window's bookkeeping of tables: a table whose last chunk joined the stream is
// reported done once (its final rows in the next checkpoint), then forgotten; a checkpoint's
// done entry is not resumed after a restart.
import { describe, expect, it } from "vitest";
import { parseTxSnapshot } from "@zeroloss/pg";
import { WatermarkWindow, type LiveChunk } from "./watermark-window.js";

const chunk = (done: boolean, rows: number): LiveChunk => ({
  id: "c",
  table: "public.t",
  rel: null,
  lines: [],
  keyIndexes: [0],
  floor: 1n,
  snapshot: parseTxSnapshot("1:1:"),
  progress: { table: "public.t", done, lastKey: ["9"], rows },
});

describe("WatermarkWindow", () => {
  it("reports a finished table once, done with its final rows, then no more", () => {
    const w = new WatermarkWindow([], async () => true);
    expect(w.begin("public.t")).toBe(true);
    expect(w.begin("public.t")).toBe(false);
    w.joined(chunk(false, 500));
    expect(w.forCheckpoint()).toEqual([{ table: "public.t", done: false, lastKey: ["9"], rows: 500 }]);
    w.joined(chunk(true, 800));
    expect(w.tables.has("public.t")).toBe(false); // its changes are streamed as any table's now
    expect(w.forCheckpoint()).toEqual([{ table: "public.t", done: true, lastKey: ["9"], rows: 800 }]);
    expect(w.forCheckpoint()).toEqual([]);
  });

  it("does not resume a table a checkpoint reported done", () => {
    const w = new WatermarkWindow(
      [
        { table: "public.a", done: true, lastKey: ["1"], rows: 10 },
        { table: "public.b", done: false, lastKey: ["1"], rows: 10 },
      ],
      async () => true,
    );
    expect([...w.tables.keys()]).toEqual(["public.b"]);
  });
});
