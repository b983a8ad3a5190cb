// The producer's emitted tallies, from the offsets its sends received: records (and rows)
// per (topic, partition, offset window), in unbroken runs of offsets, since a transaction's
// later send may land after the other lane's commit marker.
import { windowPieces } from "@zeroloss/wire";

/**
 * Notes the offsets [base, base + count) one send got in a partition: one tally per window and
 * unbroken run of offsets. A later send of the same transaction may land after the other
 * lane's commit marker, and a tally's range must hold records only (the counter compares
 * ranges with what Kafka holds). The current run of a window is keyed by the window; an
 * earlier one moves to a key with its first offset.
 */
export function noteRun(tallies: Map<string, WindowTally>, topic: string, partition: number, base: number, rows: readonly number[], windowSize: number): void {
  for (const { windowStart, from, to } of windowPieces(base, base + rows.length, windowSize)) {
    let pieceRows = 0;
    for (let i = from - base; i < to - base; i++) pieceRows += rows[i] ?? 1;
    const k = `${topic}\u0000${partition}\u0000${windowStart}`;
    const t = tallies.get(k);
    if (t !== undefined && t.lastOffset + 1 === from) {
      t.count += to - from;
      t.rows += pieceRows;
      t.lastOffset = to - 1;
    } else {
      if (t !== undefined) tallies.set(`${k}\u0000${t.firstOffset}`, t);
      tallies.set(k, { topic, partition, windowStart, count: to - from, rows: pieceRows, firstOffset: from, lastOffset: to - 1 });
    }
  }
}

export interface WindowTally {
  topic: string;
  partition: number;
  windowStart: number;
  count: number;
  /** The rows the records hold (rowsOfRecord). */
  rows: number;
  firstOffset: number;
  lastOffset: number;
}
