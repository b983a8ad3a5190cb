// The source server's settings that decide whether a producer can start and what happens
// when it stops for long: wal_level, the free replication slots and WAL senders, and
// max_slot_wal_keep_size. Read as facts, not refused here: `zeroloss check` reports them all
// at once (checkServer, which the producer runs, refuses the first that is fatal).
import { ZerolossError } from "@zeroloss/errors";
import type pg from "pg";
import { query } from "./connect.js";

export interface ReplicationSettings {
  readonly walLevel: string;
  /** server_version_num: 150004 for 15.4. */
  readonly serverVersion: number;
  readonly maxReplicationSlots: number;
  /** Replication slots of any kind on the server (every database's). */
  readonly usedReplicationSlots: number;
  readonly maxWalSenders: number;
  /** WAL sender processes running now (physical standbys, logical replication). */
  readonly usedWalSenders: number;
  /** max_slot_wal_keep_size in MB; -1 means no limit. */
  readonly maxSlotWalKeepSizeMb: number;
}

export async function readReplicationSettings(client: pg.Client): Promise<ReplicationSettings> {
  const rows = await query<Record<string, string>>(
    client,
    "reading the source's replication settings",
    `SELECT current_setting('wal_level') AS wal_level, current_setting('server_version_num') AS version,
            current_setting('max_replication_slots') AS max_slots, (SELECT count(*) FROM pg_replication_slots)::text AS used_slots,
            current_setting('max_wal_senders') AS max_senders, (SELECT count(*) FROM pg_stat_replication)::text AS used_senders,
            (SELECT setting FROM pg_settings WHERE name = 'max_slot_wal_keep_size') AS keep_mb`,
  );
  const r = rows[0];
  if (r === undefined) throw new ZerolossError("PG_FAILED", "reading the source's replication settings returned no row");
  const n = (k: string) => Number(r[k] ?? "NaN");
  return {
    walLevel: r["wal_level"] ?? "",
    serverVersion: n("version"),
    maxReplicationSlots: n("max_slots"),
    usedReplicationSlots: n("used_slots"),
    maxWalSenders: n("max_senders"),
    usedWalSenders: n("used_senders"),
    maxSlotWalKeepSizeMb: n("keep_mb"),
  };
}
