// Snapshot progress, as the producer's checkpoints tell it (the checkpoints topic): per slot
// and table, the rows committed to Kafka of the estimate, and from the first checkpoint this
// snapshot of the table was seen in, its rate and the time left. The producer's own metrics
// say the same for one process; here it is kept in the ledger, so every counter instance
// (and `zeroloss status`, and the dashboard) shows it, and it outlives the producer's restarts.
//
// Progress, not proof: the counts that prove a load are the windows' (window-states.ts). The
// table, `snapshots`, is created by the ledger's migrations (migrations/001-baseline.ts).
import { query, type Client } from "@zeroloss/pg";
import { decodeCheckpoint, type Checkpoint, type SnapshotProgress } from "@zeroloss/wire";
import type { InputRecord } from "./deltas.js";

/** A table's snapshot as a batch's checkpoints tell it, folded in offset order. */
export interface SnapshotFold {
  readonly slot: string;
  readonly table: string;
  kind: "initial" | "live";
  rows: number;
  estimated: number | null;
  done: boolean;
  at: string;
  /** Its first appearance in the batch: compared with the ledger to tell a new snapshot of the table. */
  readonly firstRows: number;
  readonly firstDone: boolean;
  /** Where its rate counts from, when it began (or began again) inside the batch. */
  startedAt: string;
  startedRows: number;
  restarted: boolean;
}

/** What a batch of the checkpoints topic says of snapshots: per (slot, table), and per slot the newest streaming checkpoint's live tables. */
export interface SnapshotDeltas {
  readonly tables: Map<string, SnapshotFold>;
  readonly streaming: Map<string, { at: string; live: string[] }>;
}

export function emptySnapshotDeltas(): SnapshotDeltas {
  return { tables: new Map(), streaming: new Map() };
}

/** A row per table a checkpoint reports: the initial snapshot's tables, then the tables snapshotted while streaming. */
function tablesOf(c: Checkpoint): { table: string; kind: "initial" | "live"; rows: number; estimated: number | null; done: boolean }[] {
  const initial = c.phase === "snapshot" ? (c.snapshot?.tables ?? []) : [];
  return [
    ...initial.map((t) => ({ table: t.table, kind: "initial" as const, rows: t.rows, estimated: t.estimatedRows ?? null, done: t.done })),
    ...(c.live ?? []).map((t) => ({ table: t.table, kind: "live" as const, rows: t.rows, estimated: t.estimatedRows ?? null, done: t.done })),
  ];
}

/**
 * Folds the checkpoints topic's records (offset order) into `d`. A table whose rows went
 * down, or that was done and is not any more, began a new snapshot (a re-snapshot, or
 * `zeroloss snapshot --table`): its rate starts over. A streaming checkpoint that no longer
 * lists a table means its snapshot ended.
 */
export function addCheckpointRecords(d: SnapshotDeltas, records: readonly InputRecord[], rejected: { offset: string; reason: string }[]): void {
  for (const r of records) {
    let c: Checkpoint;
    try {
      c = decodeCheckpoint(r.value);
    } catch (err) {
      rejected.push({ offset: r.offset, reason: (err as Error).message });
      continue;
    }
    for (const t of tablesOf(c)) {
      const k = `${c.slot}\u0000${t.table}`;
      const prev = d.tables.get(k);
      if (prev === undefined) {
        d.tables.set(k, { slot: c.slot, ...t, at: c.at, firstRows: t.rows, firstDone: t.done, startedAt: c.at, startedRows: t.rows, restarted: false });
        continue;
      }
      if (t.rows < prev.rows || (prev.done && !t.done)) {
        prev.startedAt = c.at;
        prev.startedRows = t.rows;
        prev.restarted = true;
      }
      Object.assign(prev, { kind: t.kind, rows: t.rows, estimated: t.estimated ?? prev.estimated, done: t.done, at: c.at });
    }
    if (c.phase === "streaming") {
      const live = (c.live ?? []).map((t) => t.table);
      d.streaming.set(c.slot, { at: c.at, live });
      for (const f of d.tables.values()) if (f.slot === c.slot && !live.includes(f.table)) f.done = true;
    }
  }
}

/** Writes a batch's snapshot progress, in the caller's ledger transaction. */
export async function writeSnapshots(db: Client, schema: string, d: SnapshotDeltas): Promise<void> {
  for (const [slot, s] of d.streaming) {
    // Tables the batch itself reports are written below, already folded.
    const reported = [...d.tables.values()].filter((t) => t.slot === slot).map((t) => t.table);
    await query(
      db,
      `recording the snapshots of slot ${slot} that ended`,
      `UPDATE ${schema}.snapshots SET done = true, updated_at = $2::timestamptz WHERE slot = $1 AND NOT done AND NOT (table_name = ANY($3::text[])) AND updated_at <= $2::timestamptz`,
      [slot, s.at, [...s.live, ...reported]],
    );
  }
  const f = [...d.tables.values()];
  if (f.length === 0) return;
  // A new snapshot of the table began (in this batch, or since the ledger's row): its rate counts from there.
  const restart = "x.restarted OR x.first_rows < s.rows OR (s.done AND NOT x.first_done)";
  await query(
    db,
    "recording snapshot progress",
    `WITH x AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::boolean[], $7::timestamptz[], $8::bigint[], $9::timestamptz[], $10::boolean[], $11::bigint[], $12::boolean[])
         AS x(slot, t, kind, rows, est, done, started_at, started_rows, at, restarted, first_rows, first_done)),
     updated AS (
       UPDATE ${schema}.snapshots s SET kind = x.kind, rows = x.rows, estimated = COALESCE(x.est, s.estimated), done = x.done, updated_at = x.at,
              started_at = CASE WHEN ${restart} THEN x.started_at ELSE s.started_at END,
              started_rows = CASE WHEN ${restart} THEN x.started_rows ELSE s.started_rows END
         FROM x WHERE s.slot = x.slot AND s.table_name = x.t AND x.at >= s.updated_at)
     INSERT INTO ${schema}.snapshots (slot, table_name, kind, rows, estimated, done, started_at, started_rows, updated_at)
     SELECT x.slot, x.t, x.kind, x.rows, x.est, x.done, x.started_at, x.started_rows, x.at FROM x
      WHERE NOT EXISTS (SELECT 1 FROM ${schema}.snapshots s WHERE s.slot = x.slot AND s.table_name = x.t)`,
    [
      f.map((x) => x.slot),
      f.map((x) => x.table),
      f.map((x) => x.kind),
      f.map((x) => x.rows),
      f.map((x) => x.estimated),
      f.map((x) => x.done),
      f.map((x) => x.startedAt),
      f.map((x) => x.startedRows),
      f.map((x) => x.at),
      f.map((x) => x.restarted),
      f.map((x) => x.firstRows),
      f.map((x) => x.firstDone),
    ],
  );
}

/** Every table's progress, the running snapshots first (at most 200 rows). */
export async function snapshotProgress(db: Client, schema: string): Promise<SnapshotProgress[]> {
  const rows = await query<{
    slot: string;
    table_name: string;
    kind: "initial" | "live";
    rows: string;
    estimated: string | null;
    done: "t" | "f";
    rate: string | null;
    updated_at: string;
  }>(
    db,
    "reading the snapshot progress",
    `SELECT slot, table_name, kind, rows, estimated, done,
            CASE WHEN updated_at > started_at THEN (rows - started_rows) / extract(epoch FROM updated_at - started_at)::float8 END AS rate, updated_at
       FROM ${schema}.snapshots ORDER BY done, slot, table_name LIMIT 200`,
  );
  return rows.map((r) => {
    const done = Number(r.rows);
    const estimated = r.estimated === null ? null : Math.max(Number(r.estimated), done);
    const rate = r.rate === null || Number(r.rate) <= 0 ? null : Number(r.rate);
    return {
      slot: r.slot,
      table: r.table_name,
      kind: r.kind,
      rows: done,
      estimatedRows: estimated,
      done: r.done === "t",
      rowsPerSecond: rate === null ? null : Math.round(rate),
      etaSeconds: r.done === "t" ? 0 : rate === null || estimated === null ? null : Math.round((estimated - done) / rate),
      updatedAt: r.updated_at,
    };
  });
}
