// The read side of the ledger: window and transaction states (the rules, docs/counter.md),
// the summary behind /api/summary, /metrics and `zeroloss status`, and the lists behind
// /api/windows and /api/transactions. States are derived at read time from the stored
// counts, offset ranges and the counter's own positions: a window turns from behind to
// balanced, or to mismatch, as the counter reads on, never by age.
import { query, type Client } from "@zeroloss/pg";
import { TRANSACTION_STATES, WINDOW_STATES, type SlotState, type RowTotals, type Summary, type StageTotals, type WindowRow, type WindowState, type TransactionState } from "@zeroloss/wire";
import { BALANCED_SQL, SCHEMA } from "./ledger.js";
import { snapshotProgress } from "./snapshots.js";

/**
 * Per window, what the counter knows and which differences are proven (docs/counter.md,
 * "Window states"). A difference is proven only by what the counter has read:
 *   - not_in_kafka: offsets the producer's committed emitted tallies claim that the counter
 *     read past without finding; named, not a proof by itself (a tally's range of a producer
 *     before 2026-12 may span the other lane's commit marker), the counts decide;
 *   - past_end: claimed offsets at or past Kafka's committed end as probed after the tally
 *     was counted, and still short on every probe for STABLE_CONFIRM_SECONDS (a tally
 *     commits in the same Kafka transaction as its records, and its range ends at its last
 *     record; the commit markers reach the partitions one by one, a moving leader's late);
 *   - not_emitted: offsets Kafka holds that no emitted tally covers, below the highest offset
 *     the emitted tallies reach (the producer's tallies are in commit order per partition);
 *   - skipped: offsets Kafka holds that the consumer passed over without writing (its written
 *     tallies say where its applied position stood before each batch);
 *   - kafka_read: the counter has read every offset the window's emitted tallies claim, and
 *     the emitted tally of every record it found, so emitted and transferred counts are final;
 *   - written_read: the counter has read every offset the written tallies claim.
 * Everything else that disagrees is the pipeline or the counter being behind.
 */
/** How long Kafka's committed end must stay short of committed claims before they are proven missing. */
export const STABLE_CONFIRM_SECONDS = 30;

const WINDOW_FACTS = `SELECT w.*, pt.high_watermark, COALESCE(pos.next_offset, 0) AS read_to, upper(w.written_offsets) AS written_to,
    (w.emitted_offsets - w.transferred_offsets) * int8multirange(int8range(0, COALESCE(pos.next_offset, 0))) AS not_in_kafka,
    CASE WHEN pt.stable_short_since < now() - interval '${STABLE_CONFIRM_SECONDS} seconds' THEN (w.emitted_offsets - w.transferred_offsets)
      * int8multirange(int8range(LEAST(COALESCE(pt.stable_end, 0), COALESCE(pt.stable_claims_to, 0)), COALESCE(pt.stable_claims_to, 0))) ELSE '{}'::int8multirange END AS past_end,
    (w.transferred_offsets - w.emitted_offsets) * int8multirange(int8range(0, GREATEST(COALESCE(pt.emitted_to, 0) - 1, 0))) AS not_emitted,
    (w.transferred_offsets * w.skipped_offsets) - w.written_offsets AS skipped,
    COALESCE(pos.next_offset, 0) >= COALESCE(upper(w.emitted_offsets), 0) AND COALESCE(pt.emitted_to, 0) >= COALESCE(upper(w.transferred_offsets), 0) AS kafka_read,
    COALESCE(pos.next_offset, 0) >= COALESCE(upper(w.written_offsets), 0) AS written_read
  FROM ${SCHEMA}.windows w LEFT JOIN ${SCHEMA}.partitions pt USING (topic, partition) LEFT JOIN ${SCHEMA}.positions pos USING (topic, partition)`;

/**
 * Rows count as records do (a bulk snapshot record holds many): once the counter has read
 * what the tallies claim, rows the producer emitted that Kafka's records do not hold, or
 * rows written that differ from those the same records hold, are proven.
 * In order: a proven difference → mismatch; quarantined records → attention (at once, even
 * while behind); counts that disagree without proof → behind; the partition has not yet
 * reached the window's end → open; re-read by a replay → replayed; else balanced.
 */
const STATE = `CASE
  WHEN NOT isempty(f.past_end) OR NOT isempty(f.not_emitted) OR NOT isempty(f.skipped)
    OR (f.kafka_read AND (f.emitted <> f.transferred OR (NOT f.rows_inexact AND f.emitted_rows <> f.transferred_rows)))
    OR (f.written_read AND f.applied + f.duplicate + f.quarantined > f.transferred)
    OR (f.written_read AND NOT f.rows_inexact AND f.applied + f.duplicate + f.quarantined = f.transferred AND f.emitted = f.transferred
        AND f.applied_rows + f.duplicate_rows + f.quarantined_rows <> f.transferred_rows) THEN 'mismatch'
  WHEN f.quarantined > 0 THEN 'attention'
  WHEN NOT ${BALANCED_SQL("f")} THEN 'behind'
  WHEN f.high_watermark IS NULL OR f.high_watermark < f.window_start + f.window_size THEN 'open'
  WHEN f.replay_tallies > 0 THEN 'replayed'
  ELSE 'balanced' END`;

const WINDOWS_WITH_STATE = `SELECT f.*, ${STATE} AS state FROM (${WINDOW_FACTS}) f`;

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

const TXNS_WITH_STATE = `SELECT x.*, ${TXN_STATE} AS state FROM (${TXN_FACTS}) x`;

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
  emitted_rows: string;
  transferred_rows: string;
  applied_rows: string;
  duplicate_rows: string;
  quarantined_rows: string;
  rows_inexact: "t" | "f";
  replay_records: string;
  unbalanced_since: string | null;
  updated_at: string;
  read_to: string;
  written_to: string | null;
  kafka_read: "t" | "f";
  written_read: "t" | "f";
  not_in_kafka: string;
  past_end: string;
  not_emitted: string;
  skipped: string;
  not_written: string;
}

const WINDOW_COLUMNS = `topic, partition, window_start, window_size, state, emitted, transferred, applied, duplicate, quarantined,
  emitted_rows, transferred_rows, applied_rows, duplicate_rows, quarantined_rows, rows_inexact, replay_records,
  unbalanced_since, updated_at, read_to, written_to, kafka_read, written_read, not_in_kafka::text, past_end::text, not_emitted::text, skipped::text,
  (transferred_offsets - written_offsets - skipped)::text AS not_written`;

/** Why a window is not balanced, in the operator's words: proven differences first, then what is only behind. */
function windowProblems(r: RawWindow, w: { emitted: number; transferred: number; applied: number; duplicate: number; quarantined: number; rows: RowTotals }): string[] {
  const problems: string[] = [];
  const written = w.applied + w.duplicate + w.quarantined;
  const readTo = num(r.read_to);
  const read = readTo > 0 ? `the counter has read up to offset ${readTo - 1}` : "the counter has not read this partition yet";
  const provenKafka = r.past_end !== "{}" || r.not_emitted !== "{}" || (r.kafka_read === "t" && w.emitted !== w.transferred);
  if (provenKafka) {
    problems.push(
      `the producer emitted ${w.emitted} records, Kafka holds ${w.transferred}` +
        (r.not_in_kafka === "{}" ? "" : `; emitted offsets not in Kafka: ${ranges(r.not_in_kafka)} (${read})`) +
        (r.past_end === "{}" ? "" : `; emitted offsets past Kafka's committed end: ${ranges(r.past_end)}`) +
        (r.not_emitted === "{}" ? "" : `; offsets in Kafka that no emitted tally reports: ${ranges(r.not_emitted)}`),
    );
  } else if (w.emitted !== w.transferred) {
    problems.push(`behind: the producer reported ${w.emitted} records emitted, ${w.transferred} found in Kafka so far; ${read}`);
  }
  if (r.skipped !== "{}") {
    problems.push(`offsets ${ranges(r.skipped)} were never written: the consumer wrote later offsets of this partition without them (a record skipped, e.g. a consumer-group offset moved past it)`);
  }
  if (r.written_read === "t" && written > w.transferred) {
    problems.push(`the consumer reported ${written} records written, Kafka holds ${w.transferred}`);
  } else if (w.transferred > written && r.not_written !== "{}") {
    const upTo = r.written_to === null ? "nothing written yet" : `written up to offset ${num(r.written_to) - 1}`;
    problems.push(`behind: ${w.transferred - written} of ${w.transferred} records in Kafka not reported written yet (${upTo}): offsets ${ranges(r.not_written)}`);
  } else if (written > w.transferred) {
    problems.push(`behind: the consumer reported ${written} records written, ${w.transferred} found in Kafka so far; ${read}`);
  }
  // Rows: named where the records agree (a difference in records is named above), and only
  // when every tally of the window counted rows.
  const rows = w.rows;
  const rowsWritten = rows.applied + rows.duplicate + rows.quarantined;
  const exact = r.rows_inexact === "f";
  if (exact && w.emitted === w.transferred && rows.emitted !== rows.transferred) {
    problems.push(
      r.kafka_read === "t"
        ? `the producer emitted ${rows.emitted} rows in ${w.emitted} records, the same records in Kafka hold ${rows.transferred} rows`
        : `behind: the producer reported ${rows.emitted} rows emitted, ${rows.transferred} found in Kafka so far; ${read}`,
    );
  }
  if (exact && written === w.transferred && rowsWritten !== rows.transferred) {
    problems.push(
      r.written_read === "t" && w.emitted === w.transferred
        ? `the consumer reported ${rowsWritten} rows written, the same records in Kafka hold ${rows.transferred} rows`
        : `behind: the consumer reported ${rowsWritten} rows written, ${rows.transferred} found in Kafka so far`,
    );
  }
  if (w.quarantined > 0) {
    const inRows = rows.quarantined === w.quarantined ? "" : ` (${rows.quarantined} rows)`;
    problems.push(`${w.quarantined} record(s) quarantined${inRows} (zeroloss.quarantine in the target, and the DLQ topic)`);
  }
  return problems;
}

function windowRow(r: RawWindow): WindowRow {
  const w = {
    emitted: num(r.emitted),
    transferred: num(r.transferred),
    applied: num(r.applied),
    duplicate: num(r.duplicate),
    quarantined: num(r.quarantined),
    rows: {
      emitted: num(r.emitted_rows),
      transferred: num(r.transferred_rows),
      applied: num(r.applied_rows),
      duplicate: num(r.duplicate_rows),
      quarantined: num(r.quarantined_rows),
    },
    rowsExact: r.rows_inexact === "f",
  };
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
    problems: windowProblems(r, w),
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

export async function listWindows(db: Client, f: WindowFilter = {}): Promise<WindowRow[]> {
  const rows = await query<RawWindow>(
    db,
    "listing the ledger's windows",
    `SELECT ${WINDOW_COLUMNS} FROM (${WINDOWS_WITH_STATE}) s
      WHERE ($1::text IS NULL OR topic = $1) AND ($2::int IS NULL OR partition = $2) AND ($3::text IS NULL OR state = $3)
      ORDER BY topic, partition, window_start LIMIT $4`,
    [f.topic ?? null, f.partition ?? null, f.state ?? null, f.limit ?? 1000],
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

export async function summary(db: Client, graceSeconds: number, slot: SlotState): Promise<Summary> {
  const [totals] = await query<Record<Exclude<keyof StageTotals, "rows"> | `${keyof RowTotals}_rows`, string | null>>(
    db,
    "summing the ledger",
    `SELECT sum(emitted) AS emitted, sum(transferred) AS transferred, sum(applied) AS applied, sum(duplicate) AS duplicate,
            sum(quarantined) AS quarantined, sum(replay_records) AS replayed, sum(emitted_rows) AS emitted_rows, sum(transferred_rows) AS transferred_rows,
            sum(applied_rows) AS applied_rows, sum(duplicate_rows) AS duplicate_rows, sum(quarantined_rows) AS quarantined_rows FROM ${SCHEMA}.windows`,
  );
  const states = await query<{ state: WindowState; n: string; oldest: string | null }>(
    db,
    "counting windows by state",
    `SELECT state, count(*) AS n, extract(epoch FROM now() - min(unbalanced_since))::float8 AS oldest FROM (${WINDOWS_WITH_STATE}) s GROUP BY state`,
  );
  // Unapplied transactions by their full state (few: the partial index), applied ones reopened
  // by an extra record (few), and the rest of the applied ones from the running count.
  const txnStates = await query<{ state: TransactionState; n: string }>(
    db,
    "counting transactions by state",
    `SELECT state, count(*) AS n FROM (${TXNS_WITH_STATE}) s WHERE applied_at IS NULL GROUP BY 1
     UNION ALL SELECT 'incomplete', count(*) FROM ${SCHEMA}.transactions WHERE applied_at IS NOT NULL AND complete_at IS NULL
     UNION ALL SELECT 'applied', COALESCE((SELECT n FROM ${SCHEMA}.counts WHERE name = 'applied'), 0)
       - (SELECT count(*) FROM ${SCHEMA}.transactions WHERE applied_at IS NOT NULL AND complete_at IS NULL)`,
    [graceSeconds],
  );
  const parts = await query<{
    topic: string;
    partition: string;
    high_watermark: string | null;
    read_to: string | null;
    emitted: string;
    transferred: string;
    written: string;
    emitted_rows: string;
    transferred_rows: string;
    written_rows: string;
    last_balanced: string | null;
  }>(
    db,
    "summing the ledger per partition",
    `SELECT topic, partition, max(high_watermark) AS high_watermark, max(read_to) AS read_to, sum(emitted) AS emitted, sum(transferred) AS transferred,
            sum(applied + duplicate + quarantined) AS written, sum(emitted_rows) AS emitted_rows, sum(transferred_rows) AS transferred_rows,
            sum(applied_rows + duplicate_rows + quarantined_rows) AS written_rows,
            max(upper(transferred_offsets) - 1) FILTER (WHERE window_start < COALESCE(first_unsettled, 'Infinity'::numeric)) AS last_balanced
       FROM (SELECT s.*, min(window_start) FILTER (WHERE state IN ('behind', 'mismatch', 'attention')) OVER (PARTITION BY topic, partition) AS first_unsettled
               FROM (${WINDOWS_WITH_STATE}) s) x
      GROUP BY topic, partition ORDER BY topic, partition`,
  );
  const attention = await query<RawWindow>(
    db,
    "listing windows that need attention",
    `SELECT ${WINDOW_COLUMNS} FROM (${WINDOWS_WITH_STATE}) s WHERE state IN ('mismatch', 'attention', 'behind')
      ORDER BY CASE state WHEN 'mismatch' THEN 0 WHEN 'attention' THEN 1 ELSE 2 END, unbalanced_since NULLS LAST, topic, partition, window_start LIMIT 50`,
  );
  const windows = Object.fromEntries(WINDOW_STATES.map((s) => [s, 0])) as Record<WindowState, number>;
  let oldest: number | null = null;
  for (const s of states) {
    windows[s.state] = num(s.n);
    if (s.oldest !== null) oldest = Math.max(oldest ?? 0, Number(s.oldest));
  }
  const transactions = Object.fromEntries(TRANSACTION_STATES.map((s) => [s, 0])) as Record<TransactionState, number>;
  for (const s of txnStates) transactions[s.state] += num(s.n);
  const problems = slot.state === "ahead" && slot.detail !== null ? [slot.detail] : [];
  const t = {
    emitted: num(totals?.emitted),
    transferred: num(totals?.transferred),
    applied: num(totals?.applied),
    duplicate: num(totals?.duplicate),
    quarantined: num(totals?.quarantined),
    replayed: num(totals?.replayed),
    rows: {
      emitted: num(totals?.emitted_rows),
      transferred: num(totals?.transferred_rows),
      applied: num(totals?.applied_rows),
      duplicate: num(totals?.duplicate_rows),
      quarantined: num(totals?.quarantined_rows),
    },
  };
  return {
    at: new Date().toISOString(),
    graceSeconds,
    totals: t,
    windows,
    transactions,
    oldestUnbalancedSeconds: oldest,
    partitions: parts.map((p) => {
      const emitted = num(p.emitted);
      const transferred = num(p.transferred);
      const written = num(p.written);
      const hw = p.high_watermark === null ? null : num(p.high_watermark);
      const readTo = num(p.read_to);
      return {
        topic: p.topic,
        partition: num(p.partition),
        highWatermark: hw,
        readTo,
        counterLag: hw === null ? 0 : Math.max(0, hw - readTo),
        emitted,
        transferred,
        written,
        rows: { emitted: num(p.emitted_rows), transferred: num(p.transferred_rows), written: num(p.written_rows) },
        kafkaLag: Math.max(0, emitted - transferred),
        targetLag: Math.max(0, transferred - written),
        lastBalancedOffset: p.last_balanced === null ? null : num(p.last_balanced),
      };
    }),
    needsAttention: attention.map(windowRow),
    snapshots: await snapshotProgress(db, SCHEMA),
    slot,
    problems,
    ok: isOk(windows, transactions, t.quarantined) && problems.length === 0,
  };
}

/** Nothing proven wrong, nothing quarantined, no transaction proven incomplete: the one rule behind `ok`, status's exit code and the dashboard. */
export function isOk(windows: Readonly<Record<WindowState, number>>, transactions: Readonly<Record<TransactionState, number>>, quarantined: number): boolean {
  return windows.mismatch === 0 && windows.attention === 0 && transactions.incomplete === 0 && quarantined === 0;
}

/** Transactions settled per refresh at most: a catch-up of hundreds of thousands is spread over refreshes. */
const SETTLE_BATCH = 20_000;

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
export async function settleTransactions(db: Client, retainSeconds: number, windowSize: number): Promise<{ applied: number; pruned: number }> {
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
     settled AS (
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
     UPDATE ${SCHEMA}.counts SET n = n + (SELECT count(*) FROM settled) WHERE name = 'applied' RETURNING (SELECT count(*) FROM settled)::text AS n`,
    [windowSize, SETTLE_BATCH],
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

/** Partitions whose emitted tallies claim offsets the counter has not read: where Kafka's committed end must be probed. */
export async function claimsAhead(db: Client): Promise<{ topic: string; partition: number; claimsTo: bigint }[]> {
  const rows = await query<{ topic: string; partition: string; emitted_to: string }>(
    db,
    "finding tallies that claim offsets the counter has not read",
    `SELECT p.topic, p.partition, p.emitted_to FROM ${SCHEMA}.partitions p LEFT JOIN ${SCHEMA}.positions pos USING (topic, partition)
      WHERE p.emitted_to > COALESCE(pos.next_offset, 0)`,
  );
  return rows.map((r) => ({ topic: r.topic, partition: Number(r.partition), claimsTo: BigInt(r.emitted_to) }));
}

/**
 * Records Kafka's committed end (last stable offset) per partition, probed after the claims up
 * to claimsTo were counted. The claims of the first probe that found the end short of them
 * are kept, with its time, while every later probe still finds the end short of those same
 * claims: under a steady flow the end passes them within moments, and the watch starts over.
 */
export async function recordStableEnds(db: Client, ends: readonly { topic: string; partition: number; claimsTo: bigint; stableEnd: bigint }[]): Promise<void> {
  if (ends.length === 0) return;
  await query(
    db,
    "recording Kafka's committed ends",
    `UPDATE ${SCHEMA}.partitions p SET stable_end = x.stable_end,
         stable_claims_to = CASE WHEN p.stable_short_since IS NOT NULL AND x.stable_end < p.stable_claims_to THEN p.stable_claims_to ELSE x.claims_to END,
         stable_short_since = CASE WHEN p.stable_short_since IS NOT NULL AND x.stable_end < p.stable_claims_to THEN p.stable_short_since
                                   WHEN x.stable_end < x.claims_to THEN now() END
       FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[]) AS x(topic, partition, stable_end, claims_to)
      WHERE p.topic = x.topic AND p.partition = x.partition`,
    [ends.map((e) => e.topic), ends.map((e) => e.partition), ends.map((e) => e.stableEnd.toString()), ends.map((e) => e.claimsTo.toString())],
  );
}
