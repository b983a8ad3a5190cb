// Area 1, the source server, for source.slot.failover (PostgreSQL 17+ failover slots): a server
// without them is an error (the producer refuses to start: SLOT_FAILOVER_UNSUPPORTED); one with
// no standby slot in synchronized_standby_slots is a warning, since a logical walsender then
// sends changes no standby has received, and a standby promoted after losing them holds a slot
// (and data) behind what Kafka has (docs/operations.md, "Failover slots").
import { FAILOVER_SLOTS_SINCE, formatServerVersion, type ReplicationSettings, type SlotStatus } from "@zeroloss/pg";
import type { Finding } from "./finding.js";

export function failoverFindings(s: ReplicationSettings, slot: SlotStatus, failover: boolean, standbySlots: readonly string[]): Finding[] {
  if (!failover) return [];
  if (s.serverVersion < FAILOVER_SLOTS_SINCE) {
    return [
      {
        area: "source-settings",
        severity: "error",
        check: "slot-failover",
        object: { kind: "setting", name: "source.slot.failover" },
        problem: `is true, but the source runs PostgreSQL ${formatServerVersion(s.serverVersion)}: failover slots need 17 or newer, and the producer refuses to start`,
        fix: "set source.slot.failover to false (a failover then loses the slot: re-snapshot, docs/operations.md \"When the slot is lost or missing\"), or upgrade the source to PostgreSQL 17+",
        code: "SLOT_FAILOVER_UNSUPPORTED",
      },
    ];
  }
  const out: Finding[] = [];
  if (standbySlots.length === 0) {
    out.push({
      area: "source-settings",
      severity: "warning",
      check: "synchronized-standby-slots",
      object: { kind: "setting", name: "synchronized_standby_slots" },
      problem:
        "is empty while source.slot.failover is true: the producer may be sent (and put in Kafka) changes no standby has received yet, " +
        "and a standby promoted without them is behind Kafka",
      fix: "ALTER SYSTEM SET synchronized_standby_slots = '<the standby's physical slot>'; SELECT pg_reload_conf(); (docs/operations.md, \"Failover slots\")",
    });
  }
  if (slot.exists && slot.failover === false) {
    out.push({
      area: "source-settings",
      severity: "warning",
      check: "slot-failover",
      object: { kind: "setting", name: `replication slot ${slot.slot}` },
      problem: "has failover off while source.slot.failover is true: standbys keep no copy of it yet",
      fix: "start the producer: it turns failover on for the slot (ALTER_REPLICATION_SLOT … (FAILOVER true)) before streaming",
    });
  }
  return out;
}
