// Snapshot progress from a batch of checkpoints: folded in order, a table's new snapshot told
// from the one before, and a table a streaming checkpoint no longer lists marked done.
import { describe, expect, it } from "vitest";
import { encodeJson, type Checkpoint, type SnapshotTableProgress } from "@zeroloss/wire";
import { addCheckpointRecords, emptySnapshotDeltas } from "./snapshots.js";

const table = (name: string, rows: number, done = false): SnapshotTableProgress => ({ table: name, done, lastKey: null, rows, estimatedRows: 1000 });
const initial = (at: string, tables: SnapshotTableProgress[]): Checkpoint => ({ v: 1, slot: "s", db: "d", lsn: "0/1", phase: "snapshot", snapshot: { consistentLsn: "0/1", tables }, at });
const streaming = (at: string, live: SnapshotTableProgress[] = []): Checkpoint => ({ v: 1, slot: "s", db: "d", lsn: "0/2", phase: "streaming", ...(live.length > 0 ? { live } : {}), at });
const records = (cs: Checkpoint[]) => cs.map((c, i) => ({ offset: String(i), value: encodeJson(c) }));

describe("addCheckpointRecords", () => {
  it("keeps a table's last figures and where its rate counts from; the streaming checkpoint ends the initial snapshot", () => {
    const d = emptySnapshotDeltas();
    const rejected: { offset: string; reason: string }[] = [];
    addCheckpointRecords(d, records([initial("2026-12-01T00:00:00Z", [table("public.a", 100)]), initial("2026-12-01T00:00:10Z", [table("public.a", 900, true)]), streaming("2026-12-01T00:00:11Z")]), rejected);
    expect(rejected).toEqual([]);
    expect(d.tables.get("s\u0000public.a")).toMatchObject({ kind: "initial", rows: 900, done: true, startedAt: "2026-12-01T00:00:00Z", startedRows: 100, restarted: false, firstRows: 100 });
    expect(d.streaming.get("s")).toEqual({ at: "2026-12-01T00:00:11Z", live: [] });
  });

  it("a table snapshotted again while streaming starts its rate over; one no longer listed is done", () => {
    const d = emptySnapshotDeltas();
    addCheckpointRecords(
      d,
      records([
        streaming("2026-12-01T01:00:00Z", [table("public.a", 500, true), table("public.b", 50)]),
        streaming("2026-12-01T01:00:05Z", [table("public.a", 20), table("public.b", 80)]),
        streaming("2026-12-01T01:00:09Z", [table("public.a", 60)]),
      ]),
      [],
    );
    expect(d.tables.get("s\u0000public.a")).toMatchObject({ kind: "live", rows: 60, done: false, startedAt: "2026-12-01T01:00:05Z", startedRows: 20, restarted: true });
    expect(d.tables.get("s\u0000public.b")).toMatchObject({ rows: 80, done: true });
  });

  it("names a record that is no checkpoint", () => {
    const rejected: { offset: string; reason: string }[] = [];
    addCheckpointRecords(emptySnapshotDeltas(), [{ offset: "7", value: Buffer.from("{}") }], rejected);
    expect(rejected).toEqual([{ offset: "7", reason: expect.stringContaining("checkpoint") as unknown as string }]);
  });
});
