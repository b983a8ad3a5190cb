// Where a producer run starts, decided once from what it found: the checkpoint in Kafka,
// the replication slot, the snapshot mode and the operator's flags. Pure, so every case
// is a row of a table test (start-plan.test.ts); producer.ts only carries the plan out.
//
// The decisions, in the order they bind:
//  1. A slot whose WAL is lost stops the run (SLOT_INVALIDATED), unless --resnapshot is
//     about to replace it.
//  2. A slot ahead of the checkpoint stops it (SLOT_AHEAD_OF_CHECKPOINT, DESIGN.md
//     invariant 10), unless --accept-slot-gap accepts the gap; then streaming resumes at the
//     slot's position.
//  3. No checkpoint (first start, --resnapshot): publish every table; with a snapshot mode,
//     record the snapshot's intent before anything else, so a crash never resumes from an
//     older checkpoint.
//  4. A snapshot checkpoint: resume it (slot kept), or start it (slot created with an
//     exported snapshot, a leftover slot of an unfinished start dropped first).
//  5. Then stream: from the checkpoint, or (mode never, nothing produced yet) from the slot,
//     created if needed. initial_only ends after its snapshot instead.
import { ZerolossError } from "@zeroloss/errors";
import { checkSlotAgainstCheckpoint, parseLsn, slotAheadError, type Lsn, type SlotAhead, type SlotStatus } from "@zeroloss/pg";
import type { Checkpoint } from "@zeroloss/wire";

export type SnapshotMode = "initial" | "never" | "initial_only";

/** What the producer found at start. */
export interface StartFacts {
  readonly slotName: string;
  /** The last checkpoint in Kafka; null when there is none or --resnapshot set it aside. */
  readonly checkpoint: Checkpoint | null;
  readonly slot: Pick<SlotStatus, "exists" | "walStatus" | "confirmedFlushLsn">;
  readonly mode: SnapshotMode;
  readonly resnapshot: boolean;
  readonly acceptSlotGap: boolean;
}

export type GapDecision =
  /** No gap. `unusedFlag`: --accept-slot-gap was given with nothing to accept (said in the log). */
  | { readonly kind: "none"; readonly unusedFlag: boolean }
  /** Accepted by the operator: streaming goes on from `to`; `persist` writes a streaming checkpoint there at once. */
  | { readonly kind: "accepted"; readonly ahead: SlotAhead; readonly to: Lsn; readonly persist: boolean };

export type PublicationStep =
  /** Every matching table published (the publication created or altered to them); each needs a key. */
  | "all-tables"
  /** The tables of the snapshot in progress, already published; each needs a key. */
  | "snapshot-tables"
  /** Tables not yet published are added later, each with its own snapshot, once streaming. */
  | "streaming";

export type SnapshotStep =
  /** The slot is created with an exported snapshot that the chunks are read in; a leftover slot dropped first. */
  | { readonly slot: "create"; readonly dropLeftover: boolean }
  /** A snapshot after a restart: the slot stands at its consistent point; chunks read in a new snapshot. */
  | { readonly slot: "resume" };

export type StreamStep =
  /** From the checkpoint's LSN (after a snapshot: the consistent point, or the accepted gap's end). */
  | { readonly from: "checkpoint" }
  /** Mode never and nothing produced yet: from a slot created now, at its consistent point. */
  | { readonly from: "new-slot" }
  /** Mode never and nothing produced yet: from the existing slot's confirmed position. */
  | { readonly from: "slot" }
  /** initial_only: the run ends (after its snapshot, the slot is dropped). */
  | { readonly from: "nowhere"; readonly dropSlot: boolean };

export interface StartPlan {
  readonly gap: GapDecision;
  readonly publication: PublicationStep;
  /** Commit a fresh snapshot checkpoint (phase snapshot, consistent point 0/0) before anything else. */
  readonly recordIntent: boolean;
  readonly snapshot: SnapshotStep | null;
  readonly stream: StreamStep;
}

/** The producer's start, decided; throws the error that stops it when the source cannot be streamed safely. */
export function planStart(f: StartFacts): StartPlan {
  if (f.slot.exists && f.slot.walStatus === "lost" && !(f.resnapshot && f.mode !== "never")) throw slotInvalidated(f.slotName);
  const gap = decideGap(f);

  if (f.checkpoint === null) {
    const snapshots = f.mode !== "never";
    return {
      gap,
      publication: "all-tables",
      recordIntent: snapshots,
      snapshot: snapshots ? { slot: "create", dropLeftover: f.slot.exists } : null,
      stream: snapshots ? afterSnapshot(f.mode) : f.slot.exists ? { from: "slot" } : { from: "new-slot" },
    };
  }
  if (f.checkpoint.phase === "snapshot") {
    const snap = f.checkpoint.snapshot;
    if (snap === undefined) throw new ZerolossError("CHECKPOINT_INVALID", "a snapshot checkpoint without snapshot progress", { details: { slot: f.slotName } });
    let snapshot: SnapshotStep;
    if (parseLsn(snap.consistentLsn) === 0n) snapshot = { slot: "create", dropLeftover: f.slot.exists };
    else if (f.slot.exists) snapshot = { slot: "resume" };
    else throw slotMissing(f.slotName, "the snapshot in progress");
    return { gap, publication: "snapshot-tables", recordIntent: false, snapshot, stream: afterSnapshot(f.mode) };
  }
  if (f.mode === "initial_only") return { gap, publication: "streaming", recordIntent: false, snapshot: null, stream: { from: "nowhere", dropSlot: false } };
  if (!f.slot.exists) throw slotMissing(f.slotName, `checkpoint ${f.checkpoint.lsn}`);
  return { gap, publication: "streaming", recordIntent: false, snapshot: null, stream: { from: "checkpoint" } };
}

function afterSnapshot(mode: SnapshotMode): StreamStep {
  return mode === "initial_only" ? { from: "nowhere", dropSlot: true } : { from: "checkpoint" };
}

function decideGap(f: StartFacts): GapDecision {
  const verdict = checkSlotAgainstCheckpoint(f.checkpoint, f.slot);
  if (verdict.ok) return { kind: "none", unusedFlag: f.acceptSlotGap };
  if (!f.acceptSlotGap) throw slotAheadError(f.slotName, verdict.ahead);
  return { kind: "accepted", ahead: verdict.ahead, to: parseLsn(verdict.ahead.slot), persist: f.checkpoint?.phase === "streaming" };
}

export function slotInvalidated(slot: string): ZerolossError {
  return new ZerolossError(
    "SLOT_INVALIDATED",
    `replication slot ${slot} was invalidated (wal_status=lost): the source removed WAL the producer had not read, so changes are missing. ` +
      `A re-snapshot is needed: zeroloss slot status --config <file> explains; then run zeroloss producer --config <file> --resnapshot`,
    { details: { slot } },
  );
}

export function slotMissing(slot: string, what: string): ZerolossError {
  return new ZerolossError(
    "SLOT_MISSING",
    `replication slot ${slot} does not exist, but Kafka holds ${what}: changes made since the slot disappeared cannot be read. ` +
      `A re-snapshot is needed: run zeroloss producer --config <file> --resnapshot (zeroloss slot status --config <file> shows the slot)`,
    { details: { slot } },
  );
}
