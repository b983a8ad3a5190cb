// Is the replication slot ahead of the producer's durable checkpoint? (DESIGN.md invariant
// 10, "Fail closed".) The producer acknowledges a position only after a checkpoint at or
// beyond it is committed in Kafka, so a slot whose confirmed_flush_lsn is past the
// checkpoint was moved by someone else (pg_replication_slot_advance, a producer of another
// configuration on the same slot) or by a bug. PostgreSQL streams from the slot's position,
// the producer from its checkpoint: the changes committed in between would never be read,
// and nothing downstream could tell. So this is a stop, not a warning.
//
// The verdict is pure and free of I/O: the producer (at start) reads the slot and the
// checkpoint its own way and asks it; `zeroloss slot status` and the counter read both
// through compareSlotWithCheckpoint, which fixes the order of the two reads. The inputs are structural, so @zeroloss/pg needs no
// @zeroloss/wire: a wire Checkpoint and a SlotStatus fit as they are.
import { ZerolossError } from "@zeroloss/errors";
import type pg from "pg";
import { query } from "./connect.js";
import { parseLsn } from "./lsn.js";
import { slotStatus, type SlotStatus } from "./replication.js";

export const SLOT_AHEAD_OF_CHECKPOINT = "SLOT_AHEAD_OF_CHECKPOINT";

/** What the check reads of the producer's checkpoint (a @zeroloss/wire Checkpoint). */
export interface CheckpointPosition {
  readonly phase: "snapshot" | "streaming";
  /** Streaming: every source transaction ending at or before it is in Kafka. */
  readonly lsn: string;
  /** Snapshot: the slot's consistent point, "0/0" before the slot is created. */
  readonly snapshot?: { readonly consistentLsn: string };
}

/** What the check reads of the slot (a SlotStatus). */
export interface SlotPosition {
  readonly exists: boolean;
  readonly confirmedFlushLsn: string | null;
}

export interface SlotAhead {
  /** The slot's confirmed_flush_lsn. */
  readonly slot: string;
  /** The position the slot must not pass: the checkpoint's LSN, or (snapshot phase) its consistent LSN. */
  readonly checkpoint: string;
  /** Bytes of WAL between the two: changes committed in there were never read by the producer. */
  readonly bytes: number;
  readonly phase: "snapshot" | "streaming";
}

export type SlotVerdict = { readonly ok: true } | { readonly ok: false; readonly ahead: SlotAhead };

/**
 * The verdict on a slot against the producer's last checkpoint. OK when there is nothing to
 * compare: no checkpoint (a first start, or --resnapshot), no slot (SLOT_MISSING is another
 * error), or a snapshot whose slot is not created yet (it is created afresh). During a
 * snapshot nothing acknowledges the slot, so it must still stand at the consistent point.
 * LSNs are compared as 64-bit integers: as strings, "0/9" sorts after "0/10".
 */
export function checkSlotAgainstCheckpoint(checkpoint: CheckpointPosition | null, slot: SlotPosition): SlotVerdict {
  if (checkpoint === null || !slot.exists || slot.confirmedFlushLsn === null) return { ok: true };
  let bound: string;
  if (checkpoint.phase === "streaming") {
    bound = checkpoint.lsn;
  } else {
    const consistent = checkpoint.snapshot?.consistentLsn;
    if (consistent === undefined || parseLsn(consistent) === 0n) return { ok: true };
    bound = consistent;
  }
  const confirmed = parseLsn(slot.confirmedFlushLsn);
  const limit = parseLsn(bound);
  if (confirmed <= limit) return { ok: true };
  return { ok: false, ahead: { slot: slot.confirmedFlushLsn, checkpoint: bound, bytes: Number(confirmed - limit), phase: checkpoint.phase } };
}

/**
 * A source whose WAL has not reached the streaming checkpoint is not the server the checkpoint
 * came from, as it stood: a standby promoted before it had received what the producer already
 * put in Kafka (a failover without synchronized_standby_slots). Its next commits would land
 * below the checkpoint, where the producer starts, and be skipped. On the same server the
 * current WAL position never falls behind a position logical decoding has passed, so this
 * never fires there. null when there is nothing to refuse.
 */
export function checkpointAheadOfSource(checkpoint: CheckpointPosition | null, currentLsn: string): ZerolossError | null {
  if (checkpoint === null || checkpoint.phase !== "streaming") return null;
  if (parseLsn(checkpoint.lsn) <= parseLsn(currentLsn)) return null;
  return new ZerolossError(
    "CHECKPOINT_AHEAD_OF_SOURCE",
    `the producer's checkpoint (${checkpoint.lsn}) is past the source's current WAL position (${currentLsn}): the source is not the server the ` +
      "changes in Kafka came from as it stood (a standby promoted before it received them?); its next commits would be skipped, so the producer " +
      "does not start: check source.url, and for a failover see docs/operations.md \"Failover slots\"; to start over from this server, zeroloss producer --resnapshot",
    { details: { checkpoint: checkpoint.lsn, current: currentLsn } },
  );
}

/**
 * One paragraph on a slot ahead of the checkpoint: both positions, the WAL between them,
 * and the two ways out. `config` is the config file as the operator should type it.
 */
export function describeSlotAhead(slotName: string, ahead: SlotAhead, config = "<file>"): string {
  const what = ahead.phase === "streaming" ? `the producer's checkpoint in Kafka (${ahead.checkpoint})` : `the consistent point of the producer's snapshot in progress (${ahead.checkpoint})`;
  return (
    `replication slot ${slotName} is at ${ahead.slot} (confirmed_flush_lsn), ahead of ${what} by ${ahead.bytes} bytes of WAL: ` +
    `PostgreSQL would stream from ${ahead.slot}, so changes committed between ${ahead.checkpoint} and ${ahead.slot} never reach Kafka ` +
    `(the slot was moved from outside, e.g. pg_replication_slot_advance, or a position was acknowledged without being made durable). ` +
    `The producer does not stream on over a gap. Either re-snapshot: zeroloss producer --config ${config} --resnapshot ` +
    `(drops the slot, creates a new one and snapshots every table again; consumers absorb the duplicates), or accept the loss: ` +
    `zeroloss producer --config ${config} --accept-slot-gap (streams on from ${ahead.slot}; the changes in between stay lost)`
  );
}

/** The producer's stop on a slot ahead of its checkpoint: not retriable, only the operator can choose. */
export function slotAheadError(slotName: string, ahead: SlotAhead): ZerolossError {
  return new ZerolossError(SLOT_AHEAD_OF_CHECKPOINT, describeSlotAhead(slotName, ahead), {
    details: { slot: slotName, confirmedFlushLsn: ahead.slot, checkpointLsn: ahead.checkpoint, bytes: ahead.bytes, phase: ahead.phase },
  });
}

/** The checkpoint read after the slot and the verdict, or why the checkpoint could not be read. */
export type SlotCheck<C extends CheckpointPosition> =
  | { readonly read: true; readonly checkpoint: C | null; readonly verdict: SlotVerdict }
  | { readonly read: false; readonly error: unknown };

/**
 * Reads the slot first and the producer's checkpoint after it (`readCheckpoint` is given the
 * source database's name), and judges. The order is the point: a running producer
 * acknowledges only behind a checkpoint already in Kafka, so a checkpoint read after the slot
 * is never older than what the slot showed, and a healthy producer is never reported ahead.
 * `check` is undefined when the slot is missing or lost (other problems, said elsewhere); a
 * checkpoint that cannot be read is reported, not thrown: the slot's own facts still matter.
 * `zeroloss slot status` and the counter both ask through here.
 */
export async function compareSlotWithCheckpoint<C extends CheckpointPosition>(
  client: pg.Client,
  slotName: string,
  readCheckpoint: (db: string) => Promise<C | null>,
  recheckMs = 3_000,
): Promise<{ readonly slot: SlotStatus; readonly check: SlotCheck<C> | undefined }> {
  const slot = await slotStatus(client, slotName);
  if (!slot.exists || slot.walStatus === "lost") return { slot, check: undefined };
  const db = (await query<{ db: string }>(client, "reading the database name", "SELECT current_database() AS db"))[0]?.db ?? "";
  try {
    let checkpoint = await readCheckpoint(db);
    let verdict = checkSlotAgainstCheckpoint(checkpoint, slot);
    if (!verdict.ok && recheckMs > 0) {
      // The producer acknowledges once its commit returns; the checkpoint's commit marker may
      // reach its partition a moment later. Read again before calling it a gap: a real one
      // does not close by itself.
      await new Promise((r) => setTimeout(r, recheckMs));
      checkpoint = await readCheckpoint(db);
      verdict = checkSlotAgainstCheckpoint(checkpoint, slot);
    }
    return { slot, check: { read: true, checkpoint, verdict } };
  } catch (err) {
    return { slot, check: { read: false, error: err } };
  }
}
