import { describe, expect, it } from "vitest";
import { checkpointAheadOfSource, checkSlotAgainstCheckpoint, describeSlotAhead, slotAheadError, SLOT_AHEAD_OF_CHECKPOINT } from "./slot-check.js";

const slot = (confirmedFlushLsn: string | null, exists = true) => ({ exists, confirmedFlushLsn });
const streaming = (lsn: string) => ({ phase: "streaming" as const, lsn });
const snapshot = (consistentLsn: string) => ({ phase: "snapshot" as const, lsn: "0/0", snapshot: { consistentLsn } });

describe("checkSlotAgainstCheckpoint", () => {
  it("streaming: a slot at or behind the checkpoint is fine (behind: PostgreSQL restarted, duplicates are absorbed)", () => {
    expect(checkSlotAgainstCheckpoint(streaming("0/1C18388"), slot("0/1C18388"))).toEqual({ ok: true });
    expect(checkSlotAgainstCheckpoint(streaming("0/1C18388"), slot("0/1C00000"))).toEqual({ ok: true });
  });

  it("streaming: a slot ahead is reported with both positions and the bytes between (issue 20's numbers)", () => {
    expect(checkSlotAgainstCheckpoint(streaming("0/1C18388"), slot("0/1C18EB8"))).toEqual({
      ok: false,
      ahead: { slot: "0/1C18EB8", checkpoint: "0/1C18388", bytes: 0x1c18eb8 - 0x1c18388, phase: "streaming" },
    });
  });

  it("compares LSNs as 64-bit integers, not as strings", () => {
    // As strings "0/9" > "0/10" and "9/0" > "10/0"; as positions both are behind.
    expect(checkSlotAgainstCheckpoint(streaming("0/10"), slot("0/9"))).toEqual({ ok: true });
    expect(checkSlotAgainstCheckpoint(streaming("10/0"), slot("9/FFFFFFFF"))).toEqual({ ok: true });
    const ahead = checkSlotAgainstCheckpoint(streaming("9/FFFFFFFF"), slot("A/1"));
    expect(ahead).toMatchObject({ ok: false, ahead: { bytes: 2 } });
    // Near the top of the range, where two doubles would be equal.
    expect(checkSlotAgainstCheckpoint(streaming("FFFFFFFF/FFFFFFFE"), slot("FFFFFFFF/FFFFFFFF"))).toMatchObject({ ok: false, ahead: { bytes: 1 } });
  });

  it("nothing to compare: no checkpoint, no slot, or a slot without a confirmed position", () => {
    expect(checkSlotAgainstCheckpoint(null, slot("5/0"))).toEqual({ ok: true });
    expect(checkSlotAgainstCheckpoint(streaming("0/1"), slot(null, false))).toEqual({ ok: true });
    expect(checkSlotAgainstCheckpoint(streaming("0/1"), slot(null))).toEqual({ ok: true });
  });

  it("snapshot: the slot must still stand at the consistent point; before the slot exists there is nothing to check", () => {
    expect(checkSlotAgainstCheckpoint(snapshot("0/0"), slot("3/0"))).toEqual({ ok: true });
    expect(checkSlotAgainstCheckpoint({ phase: "snapshot", lsn: "0/0" }, slot("3/0"))).toEqual({ ok: true });
    expect(checkSlotAgainstCheckpoint(snapshot("0/5000"), slot("0/5000"))).toEqual({ ok: true });
    expect(checkSlotAgainstCheckpoint(snapshot("0/5000"), slot("0/5100"))).toEqual({
      ok: false,
      ahead: { slot: "0/5100", checkpoint: "0/5000", bytes: 0x100, phase: "snapshot" },
    });
  });

  it("refuses what is not an LSN rather than guessing", () => {
    expect(() => checkSlotAgainstCheckpoint(streaming("garbage"), slot("0/1"))).toThrow(/not a PostgreSQL LSN/);
  });
});

describe("describeSlotAhead and slotAheadError", () => {
  const ahead = { slot: "0/1C18EB8", checkpoint: "0/1C18388", bytes: 2864, phase: "streaming" as const };

  it("names the slot, both positions, the bytes and both ways out", () => {
    const text = describeSlotAhead("zeroloss", ahead, "zeroloss.yaml");
    for (const s of ["zeroloss", "0/1C18EB8", "0/1C18388", "2864 bytes", "zeroloss producer --config zeroloss.yaml --resnapshot", "zeroloss producer --config zeroloss.yaml --accept-slot-gap"]) {
      expect(text).toContain(s);
    }
  });

  it("is a stable, non-retriable error code with the positions as details", () => {
    const err = slotAheadError("zeroloss", ahead);
    expect(err.code).toBe(SLOT_AHEAD_OF_CHECKPOINT);
    expect(err.retriable).toBe(false);
    expect(err.message).toContain("--config <file> --resnapshot");
    expect(err.details).toMatchObject({ slot: "zeroloss", confirmedFlushLsn: "0/1C18EB8", checkpointLsn: "0/1C18388", bytes: 2864 });
  });
});

describe("checkpointAheadOfSource", () => {
  const streaming = (lsn: string) => ({ phase: "streaming" as const, lsn });
  it("lets a source at or past the checkpoint start, and any first start or snapshot", () => {
    expect(checkpointAheadOfSource(streaming("0/3000000"), "0/3000000")).toBeNull();
    expect(checkpointAheadOfSource(streaming("0/9"), "0/10")).toBeNull(); // compared as numbers, not text
    expect(checkpointAheadOfSource(null, "0/1")).toBeNull();
    expect(checkpointAheadOfSource({ phase: "snapshot", lsn: "0/0", snapshot: { consistentLsn: "5/0" } }, "0/1")).toBeNull();
  });
  it("refuses a source behind the checkpoint (a standby promoted before it had the changes in Kafka), naming both positions", () => {
    const e = checkpointAheadOfSource(streaming("0/3000010"), "0/3000000");
    expect(e?.code).toBe("CHECKPOINT_AHEAD_OF_SOURCE");
    expect(e?.message).toContain("(0/3000010) is past the source's current WAL position (0/3000000)");
    expect(e?.retriable).toBe(false);
  });
});
