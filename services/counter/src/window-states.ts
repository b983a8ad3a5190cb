// Window states, the read side of the ledger for one window: the rules (docs/counter.md,
// "Window states") as SQL over the stored counts, offset ranges and the counter's own
// positions, the list behind /api/windows, and the words that say why a window is not
// balanced. A window turns from behind to balanced, or to mismatch, as the counter reads on,
// never by age.
import { query, type Client } from "@zeroloss/pg";
import type { RowTotals, WindowRow, WindowState } from "@zeroloss/wire";
import { BALANCED_SQL, SCHEMA } from "./ledger.js";
import { num } from "./numbers.js";

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

export const WINDOWS_WITH_STATE = `SELECT f.*, ${STATE} AS state FROM (${WINDOW_FACTS}) f`;

export interface RawWindow {
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

export const WINDOW_COLUMNS = `topic, partition, window_start, window_size, state, emitted, transferred, applied, duplicate, quarantined,
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

export function windowRow(r: RawWindow): WindowRow {
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
export function ranges(multirange: string): string {
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
