// Transaction states, the read side of the ledger for source transactions: pending,
// incomplete, complete, applied (docs/counter.md), the list behind /api/transactions, the
// words that say why one is incomplete, and the refresh step that marks complete ones
// applied and prunes old ones.
import { query, type Client } from "@zeroloss/pg";
import type { TransactionState } from "@zeroloss/wire";
import { SCHEMA } from "./ledger.js";
import { num } from "./numbers.js";
import { ranges } from "./window-states.js";

/**
 * Per transaction: records beyond what its manifest promises (extra), the counter has read
 * every partition up to the manifest's bounds (so every record it promises would have been
 * found), and, without a manifest, a later manifest's bound already passed its records (its
 * own manifest, in the same Kafka transaction and earlier in the manifests topic, would have
 * been read).
 */
const TXN_FACTS = `SELECT t.*,
    (t.expected IS NOT NULL AND EXISTS (SELECT 1 FROM jsonb_each_text(t.seen) s(k, v) WHERE s.v::bigint > COALESCE((t.expected ->> s.k)::bigint, 0))) AS extra,
    (t.bounds IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM jsonb_each_text(t.bounds) b(k, v)
        LEFT JOIN ${SCHEMA}.positions p ON p.topic = split_part(b.k, ':', 1) AND p.partition = split_part(b.k, ':', 2)::int
       WHERE COALESCE(p.next_offset, 0) < b.v::bigint)) AS bounds_read,
    (t.expected IS NULL AND EXISTS (
      SELECT 1 FROM jsonb_each_text(COALESCE(t.offsets, '{}')) o(k, v)
        JOIN ${SCHEMA}.partitions p ON p.topic = split_part(o.k, ':', 1) AND p.partition = split_part(o.k, ':', 2)::int
       WHERE upper(o.v::int8multirange) <= p.manifest_bound)) AS manifest_passed
  FROM ${SCHEMA}.transactions t`;

/**
 * Complete ones first, without the tests above (most rows). An applied transaction whose
 * complete_at was cleared got a record beyond what its manifest promises: incomplete.
 * $1 is counter.graceSeconds, used only for manifests of producers before 2026-12, which
 * carry no bounds: such a transaction is incomplete once its records are still missing
 * after the grace period.
 */
const TXN_STATE = `CASE
  WHEN x.complete_at IS NOT NULL THEN CASE WHEN x.applied_at IS NOT NULL THEN 'applied' ELSE 'complete' END
  WHEN x.applied_at IS NOT NULL THEN 'incomplete'
  WHEN x.extra OR (x.expected IS NOT NULL AND x.bounds_read) OR x.manifest_passed THEN 'incomplete'
  WHEN x.expected IS NOT NULL AND x.bounds IS NULL AND now() - x.first_seen_at > make_interval(secs => $1) THEN 'incomplete'
  ELSE 'pending' END`;

export const TXNS_WITH_STATE = `SELECT x.*, ${TXN_STATE} AS state FROM (${TXN_FACTS}) x`;

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
  /** Per table, records the data topics hold beyond what the manifest promises. */
  extra: Record<string, number>;
  /** Per "topic:partition", the offsets holding its records ("174, 180-181"). */
  offsets: Record<string, string>;
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
    offsets: string | null;
    first_seen_at: string;
  }>(
    db,
    "listing the ledger's transactions",
    `SELECT * FROM (${TXNS_WITH_STATE}) s WHERE ($2::text IS NULL OR state = $2) ORDER BY commit_lsn, commit_time LIMIT $3`,
    [graceSeconds, state, limit],
  );
  return rows.map((r) => {
    const expected = r.expected === null ? null : (JSON.parse(r.expected) as Record<string, number>);
    const seen = JSON.parse(r.seen) as Record<string, number>;
    const offsets = Object.fromEntries(Object.entries(r.offsets === null ? {} : (JSON.parse(r.offsets) as Record<string, string>)).map(([tp, m]) => [tp, ranges(m)]));
    const missing: Record<string, number> = {};
    const extra: Record<string, number> = {};
    for (const table of new Set([...Object.keys(expected ?? {}), ...Object.keys(seen)])) {
      const e = expected?.[table] ?? 0;
      const n = seen[table] ?? 0;
      if (n < e) missing[table] = e - n;
      if (expected !== null && n > e) extra[table] = n - e;
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
      extra,
      offsets,
      firstSeenAt: r.first_seen_at,
      problem: transactionProblem(r, expected, missing, extra, offsets),
    };
  });
}

/** Why a transaction is not complete, naming tables, counts and the offsets of its records. */
function transactionProblem(
  r: { kind: string | null; xid: string | null; commit_lsn: string; commit_time: string; state: TransactionState },
  expected: Record<string, number> | null,
  missing: Record<string, number>,
  extra: Record<string, number>,
  offsets: Record<string, string>,
): string | null {
  if (r.state !== "incomplete" && r.state !== "pending") return null;
  const name = `${r.kind === "snapshot" ? "snapshot chunk" : `transaction ${r.xid ?? "?"}`} (commit LSN ${r.commit_lsn}, ${r.commit_time})`;
  const where = Object.entries(offsets)
    .map(([tp, o]) => `${tp.slice(0, tp.lastIndexOf(":"))}[${tp.slice(tp.lastIndexOf(":") + 1)}] offsets ${o}`)
    .join("; ");
  const at = where === "" ? "" : `; its records are at ${where}`;
  const behind = r.state === "pending" ? "behind: " : "";
  if (expected === null) return `${behind}${name}: records in the data topics but no manifest${r.state === "pending" ? " read yet" : ""}${at}`;
  const parts = [
    ...Object.entries(extra).map(([t, n]) => `${n} record(s) of ${t} more than its manifest promises (${expected[t] ?? 0})`),
    ...Object.entries(missing).map(([t, n]) => `${n} of ${expected[t] ?? 0} record(s) of ${t} ${r.state === "pending" ? "not found yet" : "not in the data topics"}`),
  ];
  return `${behind}${name}: ${parts.join(", ")}${at}`;
}

/** Transactions marked applied per refresh at most: a catch-up of hundreds of thousands is spread over refreshes. */
const MARK_APPLIED_BATCH = 20_000;

/**
 * Marks complete transactions applied once the consumer's written tallies cover every
 * offset holding one of their records (a record skipped by the consumer keeps its
 * transaction from ever being applied), and prunes applied ones older than `retainSeconds`.
 * Runs on the counter's refresh tick, not per batch. A cheap test first: every partition's
 * written tallies reach past the transaction's last offset there (one aggregate per
 * partition); only those candidates, newest first (a transaction that never passes, its
 * record skipped, cannot hold the others back), get the exact test, offset by offset. A
 * transaction reopened by a record beyond its manifest is never pruned: it is the evidence.
 * Rows of a ledger before 2026-12 have only their last offset per partition, which stands
 * for all of them.
 */
export async function markAppliedTransactions(db: Client, retainSeconds: number, windowSize: number): Promise<{ applied: number; pruned: number }> {
  const offsets = `COALESCE(t.offsets, (SELECT jsonb_object_agg(l.k, '{[' || l.v || ',' || (l.v::bigint + 1) || ')}') FROM jsonb_each_text(t.last_offsets) l(k, v)), '{}')`;
  const applied = await query<{ n: string }>(
    db,
    "marking applied transactions",
    `WITH reach AS (SELECT topic || ':' || partition AS k, max(upper(written_offsets)) AS written_to FROM ${SCHEMA}.windows GROUP BY topic, partition),
     candidates AS (
       SELECT t.db, t.commit_lsn, t.commit_time FROM ${SCHEMA}.transactions t
        WHERE t.applied_at IS NULL AND t.complete_at IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM jsonb_each_text(${offsets}) o(k, v) LEFT JOIN reach ON reach.k = o.k
                           WHERE COALESCE(reach.written_to, 0) < upper(o.v::int8multirange))
        ORDER BY t.first_seen_at DESC LIMIT $2),
     marked AS (
       UPDATE ${SCHEMA}.transactions t SET applied_at = now() FROM candidates c
        WHERE t.db = c.db AND t.commit_lsn = c.commit_lsn AND t.commit_time = c.commit_time AND t.applied_at IS NULL
          AND NOT EXISTS (
            SELECT 1
              FROM jsonb_each_text(${offsets}) o(k, v)
              CROSS JOIN LATERAL (SELECT o.v::int8multirange AS m) r
              LEFT JOIN ${SCHEMA}.windows w ON w.topic = split_part(o.k, ':', 1) AND w.partition = split_part(o.k, ':', 2)::int
                   AND w.window_start > lower(r.m) - $1 AND w.window_start < upper(r.m)
             WHERE w.topic IS NULL OR NOT isempty((r.m * int8multirange(int8range(w.window_start, w.window_start + w.window_size))) - w.written_offsets))
        RETURNING 1)
     UPDATE ${SCHEMA}.counts SET n = n + (SELECT count(*) FROM marked) WHERE name = 'applied' RETURNING (SELECT count(*) FROM marked)::text AS n`,
    [windowSize, MARK_APPLIED_BATCH],
  );
  const pruned = await query<{ n: string }>(
    db,
    "pruning applied transactions",
    `WITH gone AS (DELETE FROM ${SCHEMA}.transactions WHERE applied_at < now() - make_interval(secs => $1) AND complete_at IS NOT NULL RETURNING 1)
     UPDATE ${SCHEMA}.counts SET n = n - (SELECT count(*) FROM gone) WHERE name = 'applied' RETURNING (SELECT count(*) FROM gone)::text AS n`,
    [retainSeconds],
  );
  return { applied: num(applied[0]?.n), pruned: num(pruned[0]?.n) };
}
