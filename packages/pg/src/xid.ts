// Transaction snapshots as pg_current_snapshot() prints them ('xmin:xmax:xip,…', 64-bit
// xids), and whether a transaction the replication stream names by its 32-bit xid is
// visible in one. The live snapshot of a table needs it to tell a change its chunk already
// saw from one it did not (services/producer/src/live-snapshot.ts).
import { ZerolossError } from "@zeroloss/errors";

export interface TxSnapshot {
  /** Every transaction below it had ended when the snapshot was taken. */
  readonly xmin: bigint;
  /** No transaction at or above it is visible. */
  readonly xmax: bigint;
  /** Transactions between xmin and xmax still running then, so invisible. */
  readonly xip: ReadonlySet<bigint>;
}

export function parseTxSnapshot(text: string): TxSnapshot {
  const m = /^(\d+):(\d+):([\d,]*)$/.exec(text.trim());
  if (m === null) throw new ZerolossError("PG_PROTOCOL", `not a transaction snapshot: ${JSON.stringify(text)}`);
  const xip = (m[3] ?? "") === "" ? [] : (m[3] as string).split(",").map((x) => BigInt(x));
  return { xmin: BigInt(m[1] as string), xmax: BigInt(m[2] as string), xip: new Set(xip) };
}

const EPOCH = 1n << 32n;

/**
 * The 64-bit form of a 32-bit xid from the replication stream, taken as the one nearest to
 * the snapshot's xmax (a transaction the stream names is within 2^31 of any live snapshot).
 */
export function widenXid(xid: number, near: bigint): bigint {
  const low = near % EPOCH;
  let full = near - low + BigInt(xid >>> 0);
  if (full - near > EPOCH / 2n) full -= EPOCH;
  else if (near - full > EPOCH / 2n) full += EPOCH;
  return full;
}

/** Whether a committed transaction's changes are visible in the snapshot. */
export function committedVisibleIn(snapshot: TxSnapshot, xid: number): boolean {
  const full = widenXid(xid, snapshot.xmax);
  return full < snapshot.xmax && !snapshot.xip.has(full);
}
