// The consumer's written tallies (DESIGN.md, "Kafka layout"): what one partition batch did,
// counted per offset window in records and in rows, with replays (offsets applied before) apart. They reach the
// counter through the outbox, in the batch's own target transaction.
import { windowStartOf, type Tally } from "@zeroloss/wire";

/** A record's outcome in a batch. */
export const APPLIED = 0;
export const DUPLICATE = 1;
export const QUARANTINED = 2;

/** Per record of a batch: the rows it holds (rowsOfRecord) and how many of them were quarantined. */
export interface RecordRows {
  readonly rows: ArrayLike<number>;
  readonly quarantined: ArrayLike<number>;
}

/** What talliesOf needs of a partition batch. */
export interface TalliedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly plan: { readonly records: readonly { readonly offset: string }[] };
}

/**
 * The written tallies of one partition batch: per offset window, apart for offsets applied
 * before (replays). Each non-replay tally says where the applied position stood before it
 * (`after`), so the counter can prove a record passed over without being written.
 */
export function talliesOf(
  batch: TalliedBatch,
  outcomes: Uint8Array,
  windowSize: number,
  appliedBefore: bigint,
  /** Absent: every record one row, quarantined whole or not at all. */
  recordRows?: RecordRows,
): { tallies: Tally[]; replayed: number } {
  const { plan } = batch;
  const windows = new Map<
    string,
    { start: number; replay: boolean; count: number; first: number; last: number; applied: number; duplicate: number; quarantined: number; rows: { applied: number; duplicate: number; quarantined: number } }
  >();
  let replayed = 0;
  plan.records.forEach((rec, i) => {
    const offset = Number(rec.offset);
    const replay = BigInt(rec.offset) < appliedBefore;
    if (replay) replayed++;
    const start = windowStartOf(offset, windowSize);
    const k = `${start}:${replay}`;
    let w = windows.get(k);
    if (w === undefined) {
      w = { start, replay, count: 0, first: offset, last: offset, applied: 0, duplicate: 0, quarantined: 0, rows: { applied: 0, duplicate: 0, quarantined: 0 } };
      windows.set(k, w);
    }
    w.count++;
    w.last = offset;
    const o = outcomes[i];
    if (o === APPLIED) w.applied++;
    else if (o === DUPLICATE) w.duplicate++;
    else w.quarantined++;
    // A bulk record with one bad row is a quarantined record whose other rows were applied.
    const rows = recordRows?.rows[i] ?? 1;
    const bad = recordRows === undefined ? (o === QUARANTINED ? 1 : 0) : Math.min(rows, recordRows.quarantined[i] ?? 0);
    if (o === DUPLICATE) w.rows.duplicate += rows - bad;
    else w.rows.applied += rows - bad;
    w.rows.quarantined += bad;
  });
  let position = Number(appliedBefore);
  const tallies = [...windows.values()].map((w): Tally => {
    const t: Tally = {
      v: 1,
      stage: "written",
      topic: batch.topic,
      partition: batch.partition,
      windowStart: w.start,
      windowSize,
      count: w.count,
      firstOffset: w.first,
      lastOffset: w.last,
      detail: { applied: w.applied, duplicate: w.duplicate, quarantined: w.quarantined },
      rows: w.rows.applied + w.rows.duplicate + w.rows.quarantined,
      rowDetail: { ...w.rows },
      ...(w.replay ? { replay: true } : { after: Math.min(position, w.first) }),
    };
    if (!w.replay) position = w.last + 1;
    return t;
  });
  return { tallies, replayed };
}
