// Failover slots (PostgreSQL 17+, source.slot.failover): the producer's slot marked FAILOVER so
// a physical standby with sync_replication_slots = on keeps a copy of it, and a promoted standby
// can be streamed from where the primary's slot stood. This file owns the version gate (14–16
// have no such slots: refused before anything is created), turning the flag on for a slot that
// exists without it, and reading what `zeroloss check` warns about (no standby in
// synchronized_standby_slots, so a standby's copy may lag what the producer was sent).
import { ZerolossError } from "@zeroloss/errors";
import type pg from "pg";
import { quoteIdent } from "@zeroloss/checksum";
import { query } from "./connect.js";
import { pgError } from "./errors.js";

/** server_version_num from which CREATE_REPLICATION_SLOT takes FAILOVER and slots are synced to standbys. */
export const FAILOVER_SLOTS_SINCE = 170000;

/** "15.4" from 150004 (10+ numbering). */
export function formatServerVersion(versionNum: number): string {
  return `${Math.floor(versionNum / 10000)}.${versionNum % 10000}`;
}

/**
 * Refuses source.slot.failover on a server without failover slots, at start and before any
 * slot, publication or topic is made: a slot created without the flag would be lost with the
 * primary, which is what the operator asked zeroloss to avoid.
 */
export function requireFailoverSlots(serverVersion: number, slot: string): void {
  if (serverVersion >= FAILOVER_SLOTS_SINCE) return;
  throw new ZerolossError(
    "SLOT_FAILOVER_UNSUPPORTED",
    `source.slot.failover is true, but the source runs PostgreSQL ${formatServerVersion(serverVersion)} (server_version_num ${serverVersion}); ` +
      `failover slots need PostgreSQL 17 or newer; the producer stopped before creating or changing replication slot ${slot}, a publication or a topic. ` +
      `Set source.slot.failover to false (a failover then loses the slot: re-snapshot, docs/operations.md "When the slot is lost or missing") or upgrade the source`,
    { details: { serverVersion, slot, key: "source.slot.failover" } },
  );
}

/**
 * ALTER_REPLICATION_SLOT … (FAILOVER true) on a walsender connection (PostgreSQL 17+): a slot
 * made before the key was set starts being synced to standbys. Its position is untouched.
 * Refused by the server while the slot is in use (another producer) or on a standby.
 */
export async function enableSlotFailover(replication: pg.Client, slot: string): Promise<void> {
  try {
    await replication.query(`ALTER_REPLICATION_SLOT ${quoteIdent(slot)} (FAILOVER true)`);
  } catch (err) {
    throw pgError(err, `turning failover on for replication slot ${slot}`);
  }
}

/** The physical slots a logical walsender waits for (synchronized_standby_slots, PostgreSQL 17+); [] when unset or older. */
export async function synchronizedStandbySlots(client: pg.Client): Promise<string[]> {
  const rows = await query<{ value: string | null }>(
    client,
    "reading synchronized_standby_slots",
    "SELECT current_setting('synchronized_standby_slots', true) AS value",
  );
  const value = rows[0]?.value ?? "";
  return value
    .split(",")
    .map((s) => s.trim().replace(/^"(.*)"$/, "$1"))
    .filter((s) => s.length > 0);
}
