// Every start the producer can face, one row each: what it found (checkpoint, slot, mode,
// flags) and what it must do, or the error that must stop it.
import { describe, expect, it } from "vitest";
import { ZerolossError } from "@zeroloss/errors";
import type { Checkpoint } from "@zeroloss/wire";
import { planStart, type SnapshotMode, type StartFacts, type StartPlan } from "./start-plan.js";

const AT = "2026-12-06T00:00:00.000Z";
const streaming = (lsn: string): Checkpoint => ({ v: 1, slot: "s", db: "d", lsn, phase: "streaming", at: AT });
const snapshotting = (consistentLsn: string): Checkpoint => ({ v: 1, slot: "s", db: "d", lsn: "0/0", phase: "snapshot", snapshot: { consistentLsn, tables: [] }, at: AT });
const noSlot = { exists: false, walStatus: null, confirmedFlushLsn: null };
const slotAt = (lsn: string, walStatus = "reserved") => ({ exists: true, walStatus, confirmedFlushLsn: lsn });

interface Row {
  readonly name: string;
  readonly checkpoint: Checkpoint | null;
  readonly slot: StartFacts["slot"];
  readonly mode?: SnapshotMode;
  readonly resnapshot?: boolean;
  readonly acceptSlotGap?: boolean;
  readonly plan?: Partial<StartPlan>;
  readonly error?: string;
}

const none = { kind: "none", unusedFlag: false } as const;

const rows: Row[] = [
  // First starts.
  { name: "first start: publish all, record the intent, create the slot with a snapshot, then stream", checkpoint: null, slot: noSlot, plan: { gap: none, publication: "all-tables", recordIntent: true, snapshot: { slot: "create", dropLeftover: false }, stream: { from: "checkpoint" } } },
  { name: "first start with a leftover slot: it is dropped and made again with a snapshot", checkpoint: null, slot: slotAt("0/5000"), plan: { recordIntent: true, snapshot: { slot: "create", dropLeftover: true }, stream: { from: "checkpoint" } } },
  { name: "mode never, no slot: no snapshot; stream from a new slot", checkpoint: null, slot: noSlot, mode: "never", plan: { gap: none, publication: "all-tables", recordIntent: false, snapshot: null, stream: { from: "new-slot" } } },
  { name: "mode never, a slot: stream from where the slot stands", checkpoint: null, slot: slotAt("0/5000"), mode: "never", plan: { recordIntent: false, snapshot: null, stream: { from: "slot" } } },
  { name: "initial_only: snapshot, then drop the slot and end", checkpoint: null, slot: noSlot, mode: "initial_only", plan: { recordIntent: true, snapshot: { slot: "create", dropLeftover: false }, stream: { from: "nowhere", dropSlot: true } } },
  // Restarts during a snapshot.
  { name: "intent recorded, slot not made yet: create it", checkpoint: snapshotting("0/0"), slot: noSlot, plan: { publication: "snapshot-tables", recordIntent: false, snapshot: { slot: "create", dropLeftover: false }, stream: { from: "checkpoint" } } },
  { name: "intent recorded, slot made but no chunk committed: make it again", checkpoint: snapshotting("0/0"), slot: slotAt("0/3000"), plan: { snapshot: { slot: "create", dropLeftover: true } } },
  { name: "snapshot in progress, slot at its consistent point: resume", checkpoint: snapshotting("0/3000"), slot: slotAt("0/3000"), plan: { gap: none, publication: "snapshot-tables", recordIntent: false, snapshot: { slot: "resume" }, stream: { from: "checkpoint" } } },
  { name: "snapshot in progress in mode never (mode changed): finish it, then stream", checkpoint: snapshotting("0/3000"), slot: slotAt("0/3000"), mode: "never", plan: { snapshot: { slot: "resume" }, stream: { from: "checkpoint" } } },
  { name: "initial_only snapshot in progress: resume, then drop the slot", checkpoint: snapshotting("0/3000"), slot: slotAt("0/3000"), mode: "initial_only", plan: { snapshot: { slot: "resume" }, stream: { from: "nowhere", dropSlot: true } } },
  { name: "snapshot in progress, slot gone: stop", checkpoint: snapshotting("0/3000"), slot: noSlot, error: "SLOT_MISSING" },
  { name: "snapshot checkpoint without progress: stop", checkpoint: { ...snapshotting("0/3000"), snapshot: undefined } as unknown as Checkpoint, slot: slotAt("0/3000"), error: "CHECKPOINT_INVALID" },
  // Restarts while streaming.
  { name: "streaming, slot behind the checkpoint: stream from the checkpoint", checkpoint: streaming("0/9000"), slot: slotAt("0/8000"), plan: { gap: none, publication: "streaming", recordIntent: false, snapshot: null, stream: { from: "checkpoint" } } },
  { name: "streaming, slot at the checkpoint: stream from the checkpoint", checkpoint: streaming("0/9000"), slot: slotAt("0/9000"), plan: { stream: { from: "checkpoint" } } },
  { name: "streaming, slot gone: stop", checkpoint: streaming("0/9000"), slot: noSlot, error: "SLOT_MISSING" },
  { name: "streaming, slot's WAL lost: stop", checkpoint: streaming("0/9000"), slot: slotAt("0/8000", "lost"), error: "SLOT_INVALIDATED" },
  { name: "initial_only after its snapshot: nothing to do", checkpoint: streaming("0/9000"), slot: noSlot, mode: "initial_only", plan: { snapshot: null, stream: { from: "nowhere", dropSlot: false } } },
  // Gaps.
  { name: "slot ahead of a streaming checkpoint: stop (fail closed)", checkpoint: streaming("0/9000"), slot: slotAt("0/A000"), error: "SLOT_AHEAD_OF_CHECKPOINT" },
  { name: "slot ahead of a snapshot's consistent point: stop", checkpoint: snapshotting("0/3000"), slot: slotAt("0/3100"), error: "SLOT_AHEAD_OF_CHECKPOINT" },
  { name: "slot ahead, gap accepted while streaming: go on from the slot, made durable at once", checkpoint: streaming("0/9000"), slot: slotAt("0/A000"), acceptSlotGap: true, plan: { gap: { kind: "accepted", ahead: { slot: "0/A000", checkpoint: "0/9000", bytes: 0x1000, phase: "streaming" }, to: 0xa000n, persist: true }, stream: { from: "checkpoint" } } },
  { name: "slot ahead, gap accepted in a snapshot: go on after it, from the slot", checkpoint: snapshotting("0/3000"), slot: slotAt("0/3100"), acceptSlotGap: true, plan: { gap: { kind: "accepted", ahead: { slot: "0/3100", checkpoint: "0/3000", bytes: 0x100, phase: "snapshot" }, to: 0x3100n, persist: false }, snapshot: { slot: "resume" } } },
  { name: "--accept-slot-gap with no gap: said, nothing accepted", checkpoint: streaming("0/9000"), slot: slotAt("0/9000"), acceptSlotGap: true, plan: { gap: { kind: "none", unusedFlag: true }, stream: { from: "checkpoint" } } },
  // --resnapshot (the checkpoint set aside: the producer passes null).
  { name: "--resnapshot over a lost slot: the slot is replaced by a new snapshot", checkpoint: null, slot: slotAt("0/8000", "lost"), resnapshot: true, plan: { recordIntent: true, snapshot: { slot: "create", dropLeftover: true } } },
  { name: "--resnapshot in mode never cannot replace a lost slot: stop", checkpoint: null, slot: slotAt("0/8000", "lost"), resnapshot: true, mode: "never", error: "SLOT_INVALIDATED" },
  { name: "a lost slot without --resnapshot on a first start: stop", checkpoint: null, slot: slotAt("0/8000", "lost"), error: "SLOT_INVALIDATED" },
];

describe("planStart", () => {
  it.each(rows)("$name", (row) => {
    const facts: StartFacts = { slotName: "s", checkpoint: row.checkpoint, slot: row.slot, mode: row.mode ?? "initial", resnapshot: row.resnapshot ?? false, acceptSlotGap: row.acceptSlotGap ?? false };
    if (row.error !== undefined) {
      let thrown: unknown;
      try {
        planStart(facts);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(ZerolossError);
      expect((thrown as ZerolossError).code).toBe(row.error);
      expect((thrown as ZerolossError).message).toContain("s");
      return;
    }
    expect(planStart(facts)).toMatchObject(row.plan ?? {});
  });
});
