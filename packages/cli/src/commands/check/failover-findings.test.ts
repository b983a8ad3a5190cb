import { describe, expect, it } from "vitest";
import type { ReplicationSettings, SlotStatus } from "@zeroloss/pg";
import { failoverFindings } from "./failover-findings.js";

const settings = (serverVersion: number): ReplicationSettings => ({
  walLevel: "logical",
  serverVersion,
  maxReplicationSlots: 10,
  usedReplicationSlots: 2,
  maxWalSenders: 10,
  usedWalSenders: 1,
  maxSlotWalKeepSizeMb: 102400,
});
const slot = (over: Partial<SlotStatus>): SlotStatus => ({
  slot: "zeroloss",
  exists: true,
  plugin: "pgoutput",
  active: false,
  activePid: null,
  restartLsn: "0/1000",
  confirmedFlushLsn: "0/1000",
  walStatus: "reserved",
  retainedWalBytes: 0,
  lagBytes: 0,
  currentLsn: "0/1000",
  failover: true,
  synced: false,
  temporary: false,
  invalidationReason: null,
  ...over,
});
const checks = (found: ReturnType<typeof failoverFindings>) => found.map((f) => `${f.severity} ${f.check}`);

describe("zeroloss check: source.slot.failover", () => {
  it("says nothing when the key is off", () => {
    expect(failoverFindings(settings(150004), slot({ failover: null }), false, [])).toEqual([]);
  });

  it("is an error before PostgreSQL 17, with the code the producer stops with", () => {
    const found = failoverFindings(settings(160004), slot({ failover: null }), true, []);
    expect(checks(found)).toEqual(["error slot-failover"]);
    expect(found[0]).toMatchObject({ code: "SLOT_FAILOVER_UNSUPPORTED", problem: expect.stringContaining("PostgreSQL 16.4") });
  });

  it("warns on 17+ without a standby in synchronized_standby_slots, and about a slot still without failover", () => {
    expect(checks(failoverFindings(settings(170012), slot({}), true, ["standby1"]))).toEqual([]);
    expect(checks(failoverFindings(settings(170012), slot({}), true, []))).toEqual(["warning synchronized-standby-slots"]);
    expect(checks(failoverFindings(settings(180001), slot({ failover: false }), true, ["standby1"]))).toEqual(["warning slot-failover"]);
  });
});
