import { describe, expect, it } from "vitest";
import type { ReplicationSettings, SlotStatus } from "@zeroloss/pg";
import { settingsFindings } from "./settings-findings.js";

const good: ReplicationSettings = {
  walLevel: "logical",
  serverVersion: 150004,
  maxReplicationSlots: 10,
  usedReplicationSlots: 2,
  maxWalSenders: 10,
  usedWalSenders: 1,
  maxSlotWalKeepSizeMb: 102400,
};
const noSlot: SlotStatus = {
  slot: "zeroloss",
  exists: false,
  plugin: null,
  active: false,
  activePid: null,
  restartLsn: null,
  confirmedFlushLsn: null,
  walStatus: null,
  retainedWalBytes: null,
  lagBytes: null,
  currentLsn: "0/1000",
  failover: null,
  synced: null,
  temporary: null,
  invalidationReason: null,
};
const slot = (over: Partial<SlotStatus>): SlotStatus => ({ ...noSlot, exists: true, plugin: "pgoutput", walStatus: "reserved", retainedWalBytes: 2048, ...over });
const checks = (s: ReplicationSettings, st: SlotStatus) => settingsFindings(s, st).map((f) => `${f.severity} ${f.check}`);

describe("zeroloss check: source settings", () => {
  it("a good server: only the max_slot_wal_keep_size note, saying what happens past the limit", () => {
    const found = settingsFindings(good, noSlot);
    expect(found.map((f) => `${f.severity} ${f.check}`)).toEqual(["warning slot-wal-keep-size"]);
    expect(found[0]?.problem).toMatch(/^is 100 GiB: .*invalidates it \(wal_status lost\).*re-snapshot/);
  });

  it("unlimited max_slot_wal_keep_size: a warning that a stopped producer can fill the disk", () => {
    const found = settingsFindings({ ...good, maxSlotWalKeepSizeMb: -1 }, slot({}));
    expect(found[0]?.problem).toMatch(/^is -1 \(unlimited\): .*fill the source's disk.*Slot zeroloss retains 2\.0 KiB of WAL now\.$/);
  });

  it("wal_level replica and PostgreSQL 13: both errors at once, with their codes", () => {
    const found = settingsFindings({ ...good, walLevel: "replica", serverVersion: 130010 }, noSlot);
    expect(found.filter((f) => f.severity === "error").map((f) => [f.object.name, f.code])).toEqual([
      ["wal_level", "WAL_LEVEL_NOT_LOGICAL"],
      ["server_version_num", "PG_VERSION_UNSUPPORTED"],
    ]);
    expect(found[0]?.fix).toBe("ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL (the setting is read at server start)");
  });

  it("no free slot: an error while the producer's slot does not exist yet, none once it does", () => {
    const full = { ...good, usedReplicationSlots: 10 };
    expect(checks(full, noSlot)).toContain("error replication-slots");
    expect(checks(full, slot({}))).not.toContain("error replication-slots");
    expect(settingsFindings(full, noSlot).find((f) => f.check === "replication-slots")?.fix).toMatch(/^ALTER SYSTEM SET max_replication_slots = 11; /);
  });

  it("no free WAL sender: an error unless the producer's slot is being read (its sender is among the used)", () => {
    const busy = { ...good, usedWalSenders: 10 };
    expect(checks(busy, noSlot)).toContain("error wal-senders");
    expect(checks(busy, slot({ active: false }))).toContain("error wal-senders");
    expect(checks(busy, slot({ active: true, activePid: 42 }))).not.toContain("error wal-senders");
  });

  it("a lost slot: an error naming the re-snapshot", () => {
    const found = settingsFindings(good, slot({ walStatus: "lost" }));
    expect(found.find((f) => f.check === "slot-lost")).toMatchObject({ severity: "error", code: "SLOT_INVALIDATED", fix: expect.stringContaining("--resnapshot") });
  });
});
