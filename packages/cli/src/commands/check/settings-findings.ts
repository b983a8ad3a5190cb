// Area 1, the source server: logical decoding on, a replication slot and a WAL sender free
// for the producer, and what max_slot_wal_keep_size means for a producer that stops.
import type { ReplicationSettings, SlotStatus } from "@zeroloss/pg";
import { humanBytes } from "../slot.js";
import type { Finding } from "./finding.js";

const RESTART = "then restart PostgreSQL (the setting is read at server start)";

export function settingsFindings(s: ReplicationSettings, slot: SlotStatus): Finding[] {
  const out: Finding[] = [];
  const setting = (name: string) => ({ kind: "setting" as const, name });
  if (s.walLevel !== "logical") {
    out.push({
      area: "source-settings",
      severity: "error",
      check: "wal-level",
      object: setting("wal_level"),
      problem: `is ${s.walLevel}; logical replication needs logical, and the producer refuses to start without it`,
      fix: `ALTER SYSTEM SET wal_level = logical; ${RESTART}`,
      code: "WAL_LEVEL_NOT_LOGICAL",
    });
  }
  if (s.serverVersion < 140000) {
    out.push({
      area: "source-settings",
      severity: "error",
      check: "server-version",
      object: setting("server_version_num"),
      problem: `the source runs PostgreSQL ${s.serverVersion}; zeroloss needs 14 or newer`,
      fix: "upgrade the source to PostgreSQL 14 or newer",
      code: "PG_VERSION_UNSUPPORTED",
    });
  }
  if (slot.exists && slot.walStatus === "lost") {
    out.push({
      area: "source-settings",
      severity: "error",
      check: "slot-lost",
      object: { kind: "setting", name: `replication slot ${slot.slot}` },
      problem: "is lost (wal_status lost): the source removed WAL the producer had not read, so the producer refuses to start",
      fix: "stop the producer, then re-snapshot: zeroloss producer --config <file> --resnapshot (docs/operations.md, \"When the slot is lost or missing\")",
      code: "SLOT_INVALIDATED",
    });
  }
  // The producer creates its slot at its first start; one that exists already needs no other.
  const slotsNeeded = slot.exists ? 0 : 1;
  const freeSlots = s.maxReplicationSlots - s.usedReplicationSlots;
  if (freeSlots < slotsNeeded) {
    out.push({
      area: "source-settings",
      severity: "error",
      check: "replication-slots",
      object: setting("max_replication_slots"),
      problem: `${s.usedReplicationSlots} of ${s.maxReplicationSlots} replication slots are in use: none is free for slot ${slot.slot}, which the producer creates at its first start`,
      fix: `ALTER SYSTEM SET max_replication_slots = ${s.usedReplicationSlots + 1}; ${RESTART}; or drop a slot nothing uses (SELECT slot_name, active FROM pg_replication_slots)`,
    });
  }
  // The producer streams over one WAL sender (and creates its slot over one); a slot in use
  // now is a producer that has its sender already.
  const sendersNeeded = slot.exists && slot.active ? 0 : 1;
  const freeSenders = s.maxWalSenders - s.usedWalSenders;
  if (freeSenders < sendersNeeded) {
    out.push({
      area: "source-settings",
      severity: "error",
      check: "wal-senders",
      object: setting("max_wal_senders"),
      problem: `${s.usedWalSenders} of ${s.maxWalSenders} WAL senders are in use: none is free for the producer's replication connection`,
      fix: `ALTER SYSTEM SET max_wal_senders = ${s.usedWalSenders + 1}; ${RESTART}`,
    });
  }
  const retained = slot.exists && slot.retainedWalBytes !== null ? ` Slot ${slot.slot} retains ${humanBytes(slot.retainedWalBytes)} of WAL now.` : "";
  if (s.maxSlotWalKeepSizeMb < 0) {
    out.push({
      area: "source-settings",
      severity: "warning",
      check: "slot-wal-keep-size",
      object: setting("max_slot_wal_keep_size"),
      problem:
        "is -1 (unlimited): while the producer is stopped or behind, its slot keeps every WAL file from its position on, without limit, " +
        `and can fill the source's disk (which stops the database).${retained}`,
      fix:
        "set a limit the disk can hold, sized for the longest producer outage to ride out (ALTER SYSTEM SET max_slot_wal_keep_size = '100GB'; SELECT pg_reload_conf();), " +
        "knowing a slot past it is lost and needs a re-snapshot; alert on the slot's WAL (ZerolossSlotLagHigh)",
    });
  } else {
    out.push({
      area: "source-settings",
      severity: "warning",
      check: "slot-wal-keep-size",
      object: setting("max_slot_wal_keep_size"),
      problem:
        `is ${humanBytes(s.maxSlotWalKeepSizeMb * 1024 * 1024)}: when the slot retains more WAL than that (the producer stopped or behind), PostgreSQL ` +
        "invalidates it (wal_status lost) and the producer stops with SLOT_INVALIDATED; the only way back is a re-snapshot of every table " +
        `(zeroloss producer --resnapshot).${retained}`,
      fix:
        "keep the producer running and size the limit for the longest outage to ride out (ALTER SYSTEM SET max_slot_wal_keep_size = …; SELECT pg_reload_conf();); " +
        "zeroloss slot status shows the slot's WAL, and ZerolossSlotLagHigh alerts on it",
    });
  }
  return out;
}
