// The read side of the ledger: window and transaction states (the rules, docs/counter.md),
// the summary behind /api/summary, /metrics and `zeroloss status`, and the lists behind
// /api/windows and /api/transactions. States are derived at read time from the stored
// counts, so they move on with the clock (pending → mismatch) without a write.
import { query, type Client } from "@zeroloss/pg";
import { TRANSACTION_STATES, WINDOW_STATES, type Summary, type StageTotals, type WindowRow, type WindowState, type TransactionState } from "@zeroloss/wire";
import { SCHEMA } from "./ledger.js";

/**
 * $1 is the grace period in seconds. In order: still unbalanced after the grace period →
 * mismatch; unbalanced → pending; quarantined records → attention; the partition has not
 * yet reached the window's end → open; re-read by a replay → replayed; else balanced.
 */
const STATE = `CASE
  WHEN w.unbalanced_since IS NOT NULL AND now() - w.unbalanced_since > make_interval(secs => $1) THEN 'mismatch'
  WHEN w.unbalanced_since IS NOT NULL THEN 'pending'
  WHEN w.quarantined > 0 THEN 'attention'
  WHEN p.high_watermark IS NULL OR p.high_watermark < w.window_start + w.window_size THEN 'open'
  WHEN w.replay_tallies > 0 THEN 'replayed'
  ELSE 'balanced' END`;

const WINDOWS_WITH_STATE = `SELECT w.*, p.high_watermark, ${STATE} AS state FROM ${SCHEMA}.windows w LEFT JOIN ${SCHEMA}.partitions p USING (topic, partition)`;

const TXN_STATE = `CASE
  WHEN t.applied_at IS NOT NULL THEN 'applied'
  WHEN t.complete_at IS NOT NULL THEN 'complete'
  WHEN now() - t.first_seen_at > make_interval(secs => $1) THEN 'incomplete'
  ELSE 'pending' END`;

const num = (v: string | null | undefined): number => (v === null || v === undefined ? 0 : Number(v));

interface RawWindow {
  topic: string;
  partition: string;
  window_start: string;
  window_size: string;
  state: WindowState;
  emitted: string;
  transferred: string;
  applied: string;
  duplicate: string;
  quarantined: string;
  replay_records: string;
  unbalanced_since: string | null;
  updated_at: string;
  not_in_kafka: string;
  not_written: string;
}

const WINDOW_COLUMNS = `topic, partition, window_start, window_size, state, emitted, transferred, applied, duplicate, quarantined, replay_records,
  unbalanced_since, updated_at, (emitted_offsets - transferred_offsets)::text AS not_in_kafka, (transferred_offsets - written_offsets)::text AS not_written`;

function windowRow(r: RawWindow): WindowRow {
  const w = {
    emitted: num(r.emitted),
    transferred: num(r.transferred),
    applied: num(r.applied),
    duplicate: num(r.duplicate),
    quarantined: num(r.quarantined),
  };
  const written = w.applied + w.duplicate + w.quarantined;
  const problems: string[] = [];
  if (w.emitted > w.transferred) {
    problems.push(
      `the producer emitted ${w.emitted} records, Kafka holds ${w.transferred}` + (r.not_in_kafka === "{}" ? "" : `; emitted offsets not in Kafka: ${ranges(r.not_in_kafka)}`),
    );
  } else if (w.transferred > w.emitted) {
    problems.push(`Kafka holds ${w.transferred} records, the producer reported ${w.emitted} emitted`);
  }
  if (w.transferred > written) {
    problems.push(`${w.transferred - written} of ${w.transferred} records in Kafka not reported written` + (r.not_written === "{}" ? "" : `: offsets ${ranges(r.not_written)}`));
  } else if (written > w.transferred) {
    problems.push(`the consumer reported ${written} records written, Kafka holds ${w.transferred}`);
  }
  if (w.quarantined > 0) problems.push(`${w.quarantined} quarantined (zeroloss.quarantine in the target, and the DLQ topic)`);
  const start = num(r.window_start);
  return {
    topic: r.topic,
    partition: num(r.partition),
    windowStart: start,
    windowEnd: start + num(r.window_size) - 1,
    state: r.state,
    ...w,
    replayRecords: num(r.replay_records),
    unbalancedSince: r.unbalanced_since,
    updatedAt: r.updated_at,
    problems,
  };
}

/** "{[5,8),[10,11)}" → "5-7, 10" (at most 20 ranges named). */
function ranges(multirange: string): string {
  const all = [...multirange.matchAll(/\[(\d+),(\d+)\)/g)].map((m) => {
    const a = Number(m[1]);
    const b = Number(m[2]) - 1;
    return a === b ? `${a}` : `${a}-${b}`;
  });
  return all.length > 20 ? `${all.slice(0, 20).join(", ")} and ${all.length - 20} more ranges` : all.join(", ");
}

export interface WindowFilter {
  readonly topic?: string;
  readonly partition?: number;
  readonly state?: WindowState;
  readonly limit?: number;
}

export async function listWindows(db: Client, graceSeconds: number, f: WindowFilter = {}): Promise<WindowRow[]> {
  const rows = await query<RawWindow>(
    db,
    "listing the ledger's windows",
    `SELECT ${WINDOW_COLUMNS} FROM (${WINDOWS_WITH_STATE}) s
      WHERE ($2::text IS NULL OR topic = $2) AND ($3::int IS NULL OR partition = $3) AND ($4::text IS NULL OR state = $4)
      ORDER BY topic, partition, window_start LIMIT $5`,
    [graceSeconds, f.topic ?? null, f.partition ?? null, f.state ?? null, f.limit ?? 1000],
  );
  return rows.map(windowRow);
}

export interface TransactionRow {
  db: string;
  kind: string | null;
  xid: number | null;
  commitLsn: string;
  commitTime: string;
  state: TransactionState;
  expected: Record<string, number> | null;
  seen: Record<string, number>;
  /** Per table, records the manifest promises that the data topics do not hold (yet). */
  missing: Record<string, number>;
  firstSeenAt: string;
  problem: string | null;
}

export async function listTransactions(db: Client, graceSeconds: number, state: TransactionState | null, limit = 1000): Promise<TransactionRow[]> {
  const rows = await query<{
    db: string;
    kind: string | null;
    xid: string | null;
    commit_lsn: string;
    commit_time: string;
    state: TransactionState;
    expected: string | null;
    seen: string;
    first_seen_at: string;
  }>(
    db,
    "listing the ledger's transactions",
    `SELECT * FROM (SELECT t.*, ${TXN_STATE} AS state FROM ${SCHEMA}.transactions t) s
      WHERE ($2::text IS NULL OR state = $2) ORDER BY commit_lsn, commit_time LIMIT $3`,
    [graceSeconds, state, limit],
  );
  return rows.map((r) => {
    const expected = r.expected === null ? null : (JSON.parse(r.expected) as Record<string, number>);
    const seen = JSON.parse(r.seen) as Record<string, number>;
    const missing: Record<string, number> = {};
    for (const [table, n] of Object.entries(expected ?? {})) if ((seen[table] ?? 0) < n) missing[table] = n - (seen[table] ?? 0);
    const name = `${r.kind === "snapshot" ? "snapshot chunk" : `transaction ${r.xid ?? "?"}`} (commit LSN ${r.commit_lsn}, ${r.commit_time})`;
    let problem: string | null = null;
    if (r.state === "incomplete" || r.state === "pending") {
      problem =
        expected === null
          ? `${name}: records in the data topics but no manifest`
          : `${name}: ${Object.entries(missing)
              .map(([t, n]) => `${n} record(s) of ${t}`)
              .join(", ")} not in the data topics`;
    }
    return {
      db: r.db,
      kind: r.kind,
      xid: r.xid === null ? null : Number(r.xid),
      commitLsn: r.commit_lsn,
      commitTime: r.commit_time,
      state: r.state,
      expected,
      seen,
      missing,
      firstSeenAt: r.first_seen_at,
      problem,
    };
  });
}

export async function summary(db: Client, graceSeconds: number): Promise<Summary> {
  const [totals] = await query<Record<keyof StageTotals, string | null>>(
    db,
    "summing the ledger",
    `SELECT sum(emitted) AS emitted, sum(transferred) AS transferred, sum(applied) AS applied, sum(duplicate) AS duplicate,
            sum(quarantined) AS quarantined, sum(replay_records) AS replayed FROM ${SCHEMA}.windows`,
  );
  const states = await query<{ state: WindowState; n: string; oldest: string | null }>(
    db,
    "counting windows by state",
    `SELECT state, count(*) AS n, extract(epoch FROM now() - min(unbalanced_since))::float8 AS oldest FROM (${WINDOWS_WITH_STATE}) s GROUP BY state`,
    [graceSeconds],
  );
  const txnStates = await query<{ state: TransactionState; n: string }>(
    db,
    "counting transactions by state",
    `SELECT ${TXN_STATE} AS state, count(*) AS n FROM ${SCHEMA}.transactions t GROUP BY 1`,
    [graceSeconds],
  );
  const parts = await query<{
    topic: string;
    partition: string;
    high_watermark: string | null;
    emitted: string;
    transferred: string;
    written: string;
    last_balanced: string | null;
  }>(
    db,
    "summing the ledger per partition",
    `SELECT topic, partition, max(high_watermark) AS high_watermark, sum(emitted) AS emitted, sum(transferred) AS transferred,
            sum(applied + duplicate + quarantined) AS written,
            max(upper(transferred_offsets) - 1) FILTER (WHERE window_start < COALESCE(first_unsettled, 'Infinity'::numeric)) AS last_balanced
       FROM (SELECT s.*, min(window_start) FILTER (WHERE state IN ('pending', 'mismatch', 'attention')) OVER (PARTITION BY topic, partition) AS first_unsettled
               FROM (${WINDOWS_WITH_STATE}) s) x
      GROUP BY topic, partition ORDER BY topic, partition`,
    [graceSeconds],
  );
  const attention = await query<RawWindow>(
    db,
    "listing windows that need attention",
    `SELECT ${WINDOW_COLUMNS} FROM (${WINDOWS_WITH_STATE}) s WHERE state IN ('mismatch', 'attention', 'pending')
      ORDER BY CASE state WHEN 'mismatch' THEN 0 WHEN 'attention' THEN 1 ELSE 2 END, unbalanced_since NULLS LAST, topic, partition, window_start LIMIT 50`,
    [graceSeconds],
  );
  const windows = Object.fromEntries(WINDOW_STATES.map((s) => [s, 0])) as Record<WindowState, number>;
  let oldest: number | null = null;
  for (const s of states) {
    windows[s.state] = num(s.n);
    if (s.oldest !== null) oldest = Math.max(oldest ?? 0, Number(s.oldest));
  }
  const transactions = Object.fromEntries(TRANSACTION_STATES.map((s) => [s, 0])) as Record<TransactionState, number>;
  for (const s of txnStates) transactions[s.state] = num(s.n);
  return {
    at: new Date().toISOString(),
    graceSeconds,
    totals: {
      emitted: num(totals?.emitted),
      transferred: num(totals?.transferred),
      applied: num(totals?.applied),
      duplicate: num(totals?.duplicate),
      quarantined: num(totals?.quarantined),
      replayed: num(totals?.replayed),
    },
    windows,
    transactions,
    oldestUnbalancedSeconds: oldest,
    partitions: parts.map((p) => {
      const emitted = num(p.emitted);
      const transferred = num(p.transferred);
      const written = num(p.written);
      return {
        topic: p.topic,
        partition: num(p.partition),
        highWatermark: p.high_watermark === null ? null : num(p.high_watermark),
        emitted,
        transferred,
        written,
        kafkaLag: Math.max(0, emitted - transferred),
        targetLag: Math.max(0, transferred - written),
        lastBalancedOffset: p.last_balanced === null ? null : num(p.last_balanced),
      };
    }),
    needsAttention: attention.map(windowRow),
    ok: windows.mismatch === 0 && windows.attention === 0 && transactions.incomplete === 0,
  };
}

/**
 * Marks complete transactions applied once the consumer's written tallies cover every
 * partition offset holding one of their records, and prunes applied ones older than
 * `retainSeconds`. Runs on the counter's refresh tick, not per batch.
 */
export async function settleTransactions(db: Client, retainSeconds: number): Promise<{ applied: number; pruned: number }> {
  const applied = await query(
    db,
    "marking applied transactions",
    `WITH f AS (SELECT topic || ':' || partition AS k, max(upper(written_offsets)) AS next FROM ${SCHEMA}.windows GROUP BY 1)
     UPDATE ${SCHEMA}.transactions t SET applied_at = now()
      WHERE t.applied_at IS NULL AND t.complete_at IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM jsonb_each_text(t.last_offsets) e(k, v) LEFT JOIN f ON f.k = e.k WHERE COALESCE(f.next, 0) <= e.v::bigint)
      RETURNING 1`,
  );
  const pruned = await query(
    db,
    "pruning applied transactions",
    `DELETE FROM ${SCHEMA}.transactions WHERE applied_at < now() - make_interval(secs => $1) RETURNING 1`,
    [retainSeconds],
  );
  return { applied: applied.length, pruned: pruned.length };
}
