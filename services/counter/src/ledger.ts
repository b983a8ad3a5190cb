// The counter's durable ledger (schema zeroloss_counter of counter.url) and the
// transactions that change it: fetched batches' deltas and the counter's new positions in
// their partitions commit together, so a restart re-reads from the stored
// position and never counts a record twice.
//
// Window and transaction states are derived when read (window-states.ts, transaction-states.ts);
// what is stored is counts, offset ranges and `unbalanced_since`, the moment the window's
// counts last stopped agreeing. The tables are made and changed by the numbered steps in
// migrations/ (ensureLedger runs them).
import { migrate, query, type AppliedStep, type Client, type MigrateResult } from "@zeroloss/pg";
import { addTally, multirange, type BatchDeltas } from "./deltas.js";
import { LEDGER_MIGRATIONS } from "./migrations/index.js";
import { writeSnapshots } from "./snapshots.js";

export const SCHEMA = "zeroloss_counter";

/** "zlcn": one counter migrating the ledger at a time (the key its DDL took before numbered migrations, so a counter of that release waits too). */
export const LEDGER_LOCK = 0x7a6c_636e;

/** Records balance when emitted = transferred = applied + duplicate + quarantined (replays aside). */
const RECORDS_BALANCED_SQL = (w: string) => `(${w}.emitted = ${w}.transferred AND ${w}.transferred = ${w}.applied + ${w}.duplicate + ${w}.quarantined)`;
/** Rows balance by the same rule (a bulk snapshot record holds many rows). */
export const ROWS_BALANCED_SQL = (w: string) =>
  `(${w}.emitted_rows = ${w}.transferred_rows AND ${w}.transferred_rows = ${w}.applied_rows + ${w}.duplicate_rows + ${w}.quarantined_rows)`;
/** A window balances when its records and its rows do (its rows only when every tally counted rows). */
export const BALANCED_SQL = (w: string) => `(${RECORDS_BALANCED_SQL(w)} AND (${w}.rows_inexact OR ${ROWS_BALANCED_SQL(w)}))`;
/** The counts a batch adds to a window, by column: records, then rows (deltas.ts). */
const COUNT_COLUMNS = [
  "emitted",
  "transferred",
  "applied",
  "duplicate",
  "quarantined",
  "emitted_rows",
  "transferred_rows",
  "applied_rows",
  "duplicate_rows",
  "quarantined_rows",
] as const;


/**
 * Creates or upgrades the ledger (migrations/ holds its steps); refuses with
 * SCHEMA_NEWER_THAN_CODE a ledger a newer counter migrated. `onApplied` hears of each step.
 */
export function ensureLedger(db: Client, onApplied?: (step: AppliedStep) => void): Promise<MigrateResult> {
  return migrate(db, { schema: SCHEMA, what: "the counter's ledger", lock: LEDGER_LOCK, migrations: LEDGER_MIGRATIONS, ...(onApplied === undefined ? {} : { onApplied }) });
}

/**
 * The offsets the ledger has counted partitions up to (exclusive), by "topic:partition"
 * (absent: never seen); with `lock`, locked for the caller's transaction in one order, so
 * two counters cannot wait on each other.
 */
export async function storedPositions(db: Client, partitions: readonly { topic: string; partition: number }[], lock = true): Promise<Map<string, bigint>> {
  if (lock) {
    // A row that does not exist yet cannot be locked: two counters holding a new partition
    // during a rebalance would both count its first batch. Created at 0 first, then locked.
    await query(
      db,
      "creating the counter's positions of new partitions",
      `INSERT INTO ${SCHEMA}.positions (topic, partition, next_offset) SELECT x.topic, x.partition, 0 FROM unnest($1::text[], $2::int[]) AS x(topic, partition)
       ORDER BY x.topic, x.partition ON CONFLICT (topic, partition) DO NOTHING`,
      [partitions.map((p) => p.topic), partitions.map((p) => p.partition)],
    );
  }
  const rows = await query<{ topic: string; partition: string; next_offset: string }>(
    db,
    `reading the counter's positions in ${partitions.map((p) => `${p.topic}[${p.partition}]`).join(", ")}`,
    `SELECT p.topic, p.partition, p.next_offset FROM ${SCHEMA}.positions p JOIN unnest($1::text[], $2::int[]) AS x(topic, partition) USING (topic, partition)
     ORDER BY p.topic, p.partition${lock ? " FOR UPDATE OF p" : ""}`,
    [partitions.map((p) => p.topic), partitions.map((p) => p.partition)],
  );
  return new Map(rows.map((r) => [`${r.topic}:${r.partition}`, BigInt(r.next_offset)]));
}

export interface PositionWrite {
  readonly topic: string;
  readonly partition: number;
  /** The offset after the batch: where the counter goes on from. */
  readonly nextOffset: bigint;
  /** The partition's high watermark as the fetch saw it (data topics only). */
  readonly highWatermark: bigint | null;
}

export interface LedgerWrite {
  /** One per partition batch in the transaction. */
  readonly positions: readonly PositionWrite[];
  readonly windowSize: number;
  /** The deltas of all of them. */
  readonly deltas: BatchDeltas;
}

/** Writes batches' deltas and positions; the caller holds the transaction (BEGIN, storedPositions, this, COMMIT). */
export async function writeBatch(db: Client, w: LedgerWrite): Promise<{ newTallies: number; repeatedTallies: number }> {
  const d = w.deltas;
  let newTallies = 0;
  if (d.tallies.length > 0) {
    const fresh = await query<{ stage: string; topic: string; partition: string; first_offset: string; replay: "t" | "f" }>(
      db,
      "recording the tallies seen",
      `INSERT INTO ${SCHEMA}.tallies_seen (stage, topic, partition, first_offset, replay, last_offset, count)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::boolean[], $6::bigint[], $7::bigint[])
       ON CONFLICT DO NOTHING RETURNING stage, topic, partition, first_offset, replay`,
      [
        d.tallies.map((t) => t.stage),
        d.tallies.map((t) => t.topic),
        d.tallies.map((t) => t.partition),
        d.tallies.map((t) => t.firstOffset),
        d.tallies.map((t) => t.replay === true),
        d.tallies.map((t) => t.lastOffset),
        d.tallies.map((t) => t.count),
      ],
    );
    // Connections return text: booleans are "t" and "f".
    const isNew = new Set(fresh.map((r) => `${r.stage}\u0000${r.topic}\u0000${r.partition}\u0000${r.first_offset}\u0000${r.replay === "t"}`));
    const seenHere = new Set<string>();
    for (const t of d.tallies) {
      const k = `${t.stage}\u0000${t.topic}\u0000${t.partition}\u0000${t.firstOffset}\u0000${t.replay === true}`;
      if (!isNew.has(k) || seenHere.has(k)) continue; // counted before, or twice in this batch
      seenHere.add(k);
      addTally(d, t);
    }
    newTallies = fresh.length;
  }

  const windows = [...d.windows.values()];
  if (windows.length > 0) {
    // $1-$3 and $5-$6 per window, $4 the window size, then one array per count column, then the offsets.
    const n = COUNT_COLUMNS.length;
    const countParams = COUNT_COLUMNS.map((_, i) => `$${i + 7}::bigint[]`).join(", ");
    const offsetParams = [0, 1, 2, 3].map((i) => `$${n + 7 + i}::text[]`).join(", ");
    const sum = (c: string) => (c === "rows_inexact" ? `w.${c} OR excluded.${c}` : `w.${c} + excluded.${c}`);
    // BALANCED_SQL's own rule over the sums: "s.emitted" read as "w.emitted + excluded.emitted".
    const balancedAfter = BALANCED_SQL("s").replace(/\bs\.(\w+)/g, (_, c: string) => `(${sum(c)})`);
    await query(
      db,
      "adding counts to the ledger's windows",
      `INSERT INTO ${SCHEMA}.windows AS w (topic, partition, window_start, window_size, replay_records, replay_tallies, ${COUNT_COLUMNS.join(", ")},
         rows_inexact, transferred_offsets, emitted_offsets, written_offsets, skipped_offsets, unbalanced_since)
       SELECT x.topic, x.partition, x.window_start, $4, x.replay_records, x.replay_tallies, ${COUNT_COLUMNS.map((c) => `x.${c}`).join(", ")},
              x.rows_inexact, x.t_off::int8multirange, x.e_off::int8multirange, x.w_off::int8multirange, x.s_off::int8multirange, CASE WHEN ${BALANCED_SQL("x")} THEN NULL ELSE now() END
         FROM unnest($1::text[], $2::int[], $3::bigint[], $5::bigint[], $6::int[], ${countParams}, ${offsetParams}, $${n + 11}::boolean[])
           AS x(topic, partition, window_start, replay_records, replay_tallies, ${COUNT_COLUMNS.join(", ")}, t_off, e_off, w_off, s_off, rows_inexact)
       ON CONFLICT (topic, partition, window_start) DO UPDATE SET
         ${COUNT_COLUMNS.map((c) => `${c} = ${sum(c)}`).join(", ")}, rows_inexact = ${sum("rows_inexact")},
         replay_records = w.replay_records + excluded.replay_records, replay_tallies = w.replay_tallies + excluded.replay_tallies,
         transferred_offsets = w.transferred_offsets + excluded.transferred_offsets, emitted_offsets = w.emitted_offsets + excluded.emitted_offsets,
         written_offsets = w.written_offsets + excluded.written_offsets, skipped_offsets = w.skipped_offsets + excluded.skipped_offsets, updated_at = now(),
         unbalanced_since = CASE WHEN ${balancedAfter} THEN NULL ELSE COALESCE(w.unbalanced_since, now()) END`,
      [
        windows.map((x) => x.topic),
        windows.map((x) => x.partition),
        windows.map((x) => x.windowStart),
        w.windowSize,
        windows.map((x) => x.replayRecords),
        windows.map((x) => x.replayTallies),
        windows.map((x) => x.emitted),
        windows.map((x) => x.transferred),
        windows.map((x) => x.applied),
        windows.map((x) => x.duplicate),
        windows.map((x) => x.quarantined),
        windows.map((x) => x.rows.emitted),
        windows.map((x) => x.rows.transferred),
        windows.map((x) => x.rows.applied),
        windows.map((x) => x.rows.duplicate),
        windows.map((x) => x.rows.quarantined),
        windows.map((x) => multirange(x.transferredRanges)),
        windows.map((x) => multirange(x.emittedRanges)),
        windows.map((x) => multirange(x.writtenRanges)),
        windows.map((x) => multirange(x.skippedRanges)),
        windows.map((x) => x.rowsInexact),
      ],
    );
  }

  const txns = [...d.transactions.values()];
  if (txns.length > 0) {
    await query(
      db,
      "adding source transactions to the ledger",
      `INSERT INTO ${SCHEMA}.transactions AS t (db, commit_lsn, commit_time, kind, xid, expected, expected_records, seen, seen_records, offsets, bounds, manifest_at, complete_at)
       SELECT x.db, x.lsn::pg_lsn, x.ct, x.kind, x.xid, x.expected, x.expected_records, x.seen, x.seen_records, x.offsets, x.bounds,
              CASE WHEN x.expected IS NULL THEN NULL ELSE now() END,
              CASE WHEN x.expected IS NOT NULL AND x.expected = x.seen THEN now() END
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::jsonb[], $7::bigint[], $8::jsonb[], $9::bigint[], $10::jsonb[], $11::jsonb[])
           AS x(db, lsn, ct, kind, xid, expected, expected_records, seen, seen_records, offsets, bounds)
       ON CONFLICT (db, commit_lsn, commit_time) DO UPDATE SET
         kind = COALESCE(excluded.kind, t.kind), xid = COALESCE(excluded.xid, t.xid),
         expected = COALESCE(excluded.expected, t.expected), expected_records = COALESCE(excluded.expected_records, t.expected_records),
         manifest_at = COALESCE(t.manifest_at, excluded.manifest_at),
         seen = ${SCHEMA}.add_counts(t.seen, excluded.seen), seen_records = t.seen_records + excluded.seen_records,
         offsets = ${SCHEMA}.union_offsets(t.offsets, excluded.offsets), bounds = COALESCE(excluded.bounds, t.bounds),
         complete_at = CASE WHEN COALESCE(excluded.expected, t.expected) = ${SCHEMA}.add_counts(t.seen, excluded.seen) THEN COALESCE(t.complete_at, now()) END`,
      [
        txns.map((t) => t.db),
        txns.map((t) => t.commitLsn),
        txns.map((t) => t.commitTime),
        txns.map((t) => t.kind),
        txns.map((t) => t.xid),
        txns.map((t) => (t.manifest === null ? null : JSON.stringify(t.manifest.events))),
        txns.map((t) => t.manifest?.records ?? null),
        txns.map((t) => JSON.stringify(t.seen)),
        txns.map((t) => Object.values(t.seen).reduce((a, b) => a + b, 0)),
        txns.map((t) => JSON.stringify(Object.fromEntries(Object.entries(t.offsets).map(([tp, r]) => [tp, multirange(r)])))),
        txns.map((t) => (t.manifest?.bounds === undefined ? null : JSON.stringify(t.manifest.bounds))),
      ],
    );
  }

  // Per data partition: the fetched high watermark, how far the emitted tallies reach, the highest manifest bound.
  const marks = new Map<string, { topic: string; partition: number; hw: bigint | null; emittedTo: number | null; bound: number | null }>();
  const mark = (topic: string, partition: number) => {
    const k = `${topic}:${partition}`;
    let m = marks.get(k);
    if (m === undefined) marks.set(k, (m = { topic, partition, hw: null, emittedTo: null, bound: null }));
    return m;
  };
  for (const p of w.positions) if (p.highWatermark !== null) mark(p.topic, p.partition).hw = p.highWatermark;
  for (const x of windows) {
    const end = x.emittedRanges.reduce((n, r) => Math.max(n, r[1]), -1);
    if (end >= 0) {
      const m = mark(x.topic, x.partition);
      m.emittedTo = Math.max(m.emittedTo ?? 0, end);
    }
  }
  for (const [tp, bound] of d.manifestBounds) {
    const at = tp.lastIndexOf(":");
    mark(tp.slice(0, at), Number(tp.slice(at + 1))).bound = bound;
  }
  if (marks.size > 0) {
    const list = [...marks.values()];
    const p = `${SCHEMA}.partitions`;
    await query(
      db,
      "recording the partitions' high watermarks and how far tallies and manifests reach",
      `INSERT INTO ${p} (topic, partition, high_watermark, emitted_to, manifest_bound) SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[], $5::bigint[])
       ON CONFLICT (topic, partition) DO UPDATE SET high_watermark = GREATEST(${p}.high_watermark, excluded.high_watermark),
         emitted_to = GREATEST(${p}.emitted_to, excluded.emitted_to), manifest_bound = GREATEST(${p}.manifest_bound, excluded.manifest_bound), updated_at = now()`,
      [list.map((m) => m.topic), list.map((m) => m.partition), list.map((m) => m.hw?.toString() ?? null), list.map((m) => m.emittedTo), list.map((m) => m.bound)],
    );
  }
  await writeSnapshots(db, SCHEMA, d.snapshots);
  await query(
    db,
    "recording the counter's positions",
    `INSERT INTO ${SCHEMA}.positions (topic, partition, next_offset) SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[])
     ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset, updated_at = now()`,
    [w.positions.map((p) => p.topic), w.positions.map((p) => p.partition), w.positions.map((p) => p.nextOffset.toString())],
  );
  return { newTallies, repeatedTallies: d.tallies.length - newTallies };
}
