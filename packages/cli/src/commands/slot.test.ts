import { describe, expect, it } from "vitest";
import { checkSlotAgainstCheckpoint, type SlotStatus } from "@zeroloss/pg";
import type { Checkpoint } from "@zeroloss/wire";
import { formatSlotStatus, slotAdvice, type CheckpointCheck } from "./slot.js";

const status: SlotStatus = {
  slot: "zeroloss",
  exists: true,
  plugin: "pgoutput",
  active: false,
  activePid: null,
  restartLsn: "0/1C18000",
  confirmedFlushLsn: "0/1C18EB8",
  walStatus: "reserved",
  retainedWalBytes: 3768,
  lagBytes: 0,
  currentLsn: "0/1C18EB8",
  failover: null,
  synced: null,
  temporary: false,
  invalidationReason: null,
};
const checkpoint = (lsn: string): Checkpoint => ({ v: 1, slot: "zeroloss", db: "app", lsn, phase: "streaming", at: "2026-12-01T00:00:00Z" });
const checked = (cp: Checkpoint | null): CheckpointCheck => ({ read: true, checkpoint: cp, verdict: checkSlotAgainstCheckpoint(cp, status) });

describe("slot status and failover slots", () => {
  it("shows failover (PostgreSQL 17+) and synced when the server reports them", () => {
    expect(formatSlotStatus(status, "app", [])).toMatch(/^failover +- \(PostgreSQL 16 or older\)$/m);
    expect(formatSlotStatus(status, "app", [])).not.toMatch(/^synced/m);
    const seventeen = { ...status, failover: true, synced: false };
    expect(formatSlotStatus(seventeen, "app", [])).toMatch(/^failover +yes$/m);
    expect(formatSlotStatus(seventeen, "app", [])).toMatch(/^synced +no$/m);
    expect(formatSlotStatus({ ...seventeen, synced: true, temporary: true }, "app", [])).toMatch(/^synced +yes \(a standby's copy, temporary/m);
  });
});

describe("slot status and the producer's checkpoint", () => {
  it("a slot ahead: the first advice names both positions and both ways out; 'start the producer' is not offered", () => {
    const advice = slotAdvice(status, { config: "z.yaml" }, checked(checkpoint("0/1C18388")));
    expect(advice).toHaveLength(1);
    expect(advice[0]).toMatch(/^Replication slot zeroloss is at 0\/1C18EB8 .*ahead of the producer's checkpoint in Kafka \(0\/1C18388\) by 2864 bytes/);
    expect(advice[0]).toContain("zeroloss producer --config z.yaml --resnapshot");
    expect(advice[0]).toContain("zeroloss producer --config z.yaml --accept-slot-gap");
    const text = formatSlotStatus(status, "app", advice, checked(checkpoint("0/1C18388")));
    expect(text).toMatch(/^producer checkpoint +0\/1C18388$/m);
    expect(text).toMatch(/^slot ahead by +2\.8 KiB \(2864 bytes\)$/m);
  });

  it("a slot at the checkpoint, or no checkpoint yet: nothing about a gap", () => {
    for (const cp of [checkpoint("0/1C18EB8"), null]) {
      const advice = slotAdvice(status, {}, checked(cp));
      expect(advice.join("\n")).not.toMatch(/ahead/);
    }
    expect(formatSlotStatus(status, "app", [], checked(null))).toMatch(/^producer checkpoint +none/m);
  });

  it("Kafka unreadable: says the comparison is unknown, never that all is well", () => {
    const check: CheckpointCheck = { read: false, error: "connecting to Kafka: ECONNREFUSED" };
    const advice = slotAdvice({ ...status, active: true }, {}, check);
    expect(advice).toHaveLength(1);
    expect(advice[0]).toMatch(/Could not read the producer's checkpoint from Kafka \(connecting to Kafka: ECONNREFUSED\).*unknown/);
    expect(formatSlotStatus(status, "app", advice, check)).toMatch(/^producer checkpoint +unknown/m);
  });
});
