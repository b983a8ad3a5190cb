// Offset windows (DESIGN.md, "Kafka layout"): the fixed ranges [start, start + size) of a
// partition's offsets that tallies count records in. The producer (emitted tallies), the
// consumer (written tallies) and the counter (the ledger) all cut ranges with these two
// functions, so a tally's window can never be worked out two ways.

/** The first offset of the window holding `offset`. */
export function windowStartOf(offset: number, windowSize: number): number {
  return Math.floor(offset / windowSize) * windowSize;
}

/** A piece of an offset range that lies inside one window: [from, to). */
export interface WindowPiece {
  readonly windowStart: number;
  readonly from: number;
  readonly to: number;
}

/** Cuts the half-open offset range [from, to) at window boundaries, in offset order (none when empty). */
export function windowPieces(from: number, to: number, windowSize: number): WindowPiece[] {
  const pieces: WindowPiece[] = [];
  let at = from;
  while (at < to) {
    const windowStart = windowStartOf(at, windowSize);
    const end = Math.min(to, windowStart + windowSize);
    pieces.push({ windowStart, from: at, to: end });
    at = end;
  }
  return pieces;
}
