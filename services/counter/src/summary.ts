// The summary behind /api/summary, /metrics and `zeroloss status`: window and transaction
// states counted, the stage totals, per-partition progress, and the one rule of `ok`.
import { query, type Client } from "@zeroloss/pg";
import { TRANSACTION_STATES, WINDOW_STATES, type SlotState, type RowTotals, type Summary, type StageTotals, type WindowState, type TransactionState } from "@zeroloss/wire";
import { SCHEMA } from "./ledger.js";
import { num } from "./numbers.js";
import { snapshotProgress } from "./snapshots.js";
import { TXNS_WITH_STATE } from "./transaction-states.js";
import { WINDOW_COLUMNS, WINDOWS_WITH_STATE, windowRow, type RawWindow } from "./window-states.js";

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
            max(upper(transferred_offsets) - 1) FILTER (WHERE window_start < COALESCE(first_unbalanced, 'Infinity'::numeric)) AS last_balanced
       FROM (SELECT s.*, min(window_start) FILTER (WHERE state IN ('behind', 'mismatch', 'attention')) OVER (PARTITION BY topic, partition) AS first_unbalanced
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
