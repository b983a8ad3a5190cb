// The source side of logical replication that is plain SQL or walsender commands: server
// checks, the publication, and the slot (create with an exported snapshot, inspect, drop).
import { ZerolossError } from "@zeroloss/errors";
import type pg from "pg";
import { query } from "./connect.js";
import { pgError } from "./errors.js";
import { parseLsn, type Lsn } from "./lsn.js";
import { quoteIdent } from "@zeroloss/checksum";
import { qualifiedName, quoteTable, type TableName } from "./catalog.js";

/** wal_level must be logical; refuses with the setting's name and the fix. */
export async function checkServer(client: pg.Client): Promise<{ version: number }> {
  const rows = await query<{ wal_level: string; version: string }>(
    client,
    "checking the source server",
    "SELECT current_setting('wal_level') AS wal_level, current_setting('server_version_num') AS version",
  );
  const row = rows[0];
  if (row === undefined) throw new ZerolossError("PG_FAILED", "checking the source server returned no row");
  if (row.wal_level !== "logical") {
    throw new ZerolossError(
      "WAL_LEVEL_NOT_LOGICAL",
      `the source has wal_level=${row.wal_level}; logical replication needs wal_level=logical. ` +
        `Fix: ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL`,
      { details: { setting: "wal_level", value: row.wal_level } },
    );
  }
  const version = Number(row.version);
  if (version < 140000) {
    throw new ZerolossError("PG_VERSION_UNSUPPORTED", `the source runs PostgreSQL ${version}; zeroloss needs 14 or newer`, {
      details: { version },
    });
  }
  return { version };
}

/**
 * Creates the publication for exactly these tables when it is missing. An existing one
 * must publish the same tables: quietly dropping one would stop its changes, and adding
 * one to a running stream needs a snapshot of it, so a difference stops here, except
 * tables not yet published when `missingOk` (the live snapshot adds them).
 */
export async function ensurePublication(
  client: pg.Client,
  publication: string,
  tables: readonly TableName[],
  options: { readonly alter: boolean; readonly missingOk?: boolean },
): Promise<"created" | "exists" | "altered"> {
  const existing = await publishedTables(client, publication);
  const exists = await query(client, `reading publication ${publication}`, "SELECT 1 FROM pg_publication WHERE pubname = $1", [publication]);
  if (exists.length === 0) {
    const list = tables.map(quoteTable).join(", ");
    await query(client, `creating publication ${publication}`, `CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${list}`);
    return "created";
  }
  const want = new Set(tables.map(qualifiedName));
  const have = new Set(existing.map(qualifiedName));
  const missing = options.missingOk === true && !options.alter ? [] : [...want].filter((t) => !have.has(t));
  const extra = [...have].filter((t) => !want.has(t));
  if ((missing.length > 0 || extra.length > 0) && options.alter) {
    // Nothing has been streamed from it yet (a fresh start): make it match.
    await query(client, `altering publication ${publication}`, `ALTER PUBLICATION ${quoteIdent(publication)} SET TABLE ${tables.map(quoteTable).join(", ")}`);
    return "altered";
  }
  if (missing.length > 0 || extra.length > 0) {
    throw new ZerolossError(
      "PUBLICATION_MISMATCH",
      `publication ${publication} does not publish the tables source.tables chooses` +
        (missing.length > 0 ? `; not published: ${missing.join(", ")}` : "") +
        (extra.length > 0 ? `; published but not chosen: ${extra.join(", ")}` : "") +
        (extra.length > 0
          ? `. To stop streaming a table, drop it from the publication (ALTER PUBLICATION ${quoteIdent(publication)} DROP TABLE …; its target table stays as it is); ` +
            `or change source.tables back`
          : `. A table joining the stream during a snapshot is added once the snapshot is done; or start over with ` +
            `zeroloss producer --resnapshot (drops the slot and the publication, then snapshots every chosen table)`),
      { details: { publication, missing, extra } },
    );
  }
  return "exists";
}

/** The tables a publication lists. */
export async function publishedTables(client: pg.Client, publication: string): Promise<TableName[]> {
  return query<{ schema: string; name: string }>(
    client,
    `reading publication ${publication}`,
    `SELECT schemaname AS schema, tablename AS name FROM pg_publication_tables WHERE pubname = $1`,
    [publication],
  );
}

/** Adds a table to the publication unless it is there: its changes are streamed from the commit on. */
export async function addToPublication(client: pg.Client, publication: string, table: TableName): Promise<boolean> {
  const have = await publishedTables(client, publication);
  if (have.some((t) => t.schema === table.schema && t.name === table.name)) return false;
  await query(client, `adding ${qualifiedName(table)} to publication ${publication}`, `ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${quoteTable(table)}`);
  return true;
}

export async function dropPublication(client: pg.Client, publication: string): Promise<void> {
  await query(client, `dropping publication ${publication}`, `DROP PUBLICATION IF EXISTS ${quoteIdent(publication)}`);
}

export interface CreatedSlot {
  readonly consistentLsn: Lsn;
  /** Valid while the creating replication connection stays open and idle. */
  readonly snapshotName: string | null;
}

/**
 * CREATE_REPLICATION_SLOT on a walsender connection. With `exportSnapshot`, the snapshot
 * it returns sees exactly the commits before the slot's consistent point. With `failover`
 * (PostgreSQL 17+, requireFailoverSlots first) the slot is synced to standbys that ask for it;
 * that needs the option list form (PostgreSQL 15+), so the older keyword form stays for 14.
 */
export async function createSlot(replication: pg.Client, slot: string, exportSnapshot: boolean, options: { readonly failover?: boolean } = {}): Promise<CreatedSlot> {
  const mode = options.failover === true
    ? `(SNAPSHOT '${exportSnapshot ? "export" : "nothing"}', FAILOVER true)`
    : exportSnapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT";
  let rows: { consistent_point: string; snapshot_name: string | null }[];
  try {
    const res = await replication.query<{ consistent_point: string; snapshot_name: string | null }>(
      `CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput ${mode}`,
    );
    rows = res.rows;
  } catch (err) {
    throw pgError(err, `creating replication slot ${slot}`);
  }
  const row = rows[0];
  if (row === undefined) throw new ZerolossError("PG_FAILED", `creating replication slot ${slot} returned no row`);
  return { consistentLsn: parseLsn(row.consistent_point), snapshotName: row.snapshot_name };
}

export interface SlotStatus {
  readonly slot: string;
  readonly exists: boolean;
  readonly plugin: string | null;
  readonly active: boolean;
  readonly activePid: number | null;
  readonly restartLsn: string | null;
  readonly confirmedFlushLsn: string | null;
  /** reserved, extended, unreserved or lost (PostgreSQL 13+). */
  readonly walStatus: string | null;
  /** Bytes of WAL the slot keeps on the source (current WAL LSN − restart LSN). */
  readonly retainedWalBytes: number | null;
  /** Bytes between the current WAL LSN and what the slot has confirmed. */
  readonly lagBytes: number | null;
  readonly currentLsn: string;
  /** Created or altered with FAILOVER, so standbys with sync_replication_slots keep it (PostgreSQL 17+; null before, or no slot). */
  readonly failover: boolean | null;
  /**
   * A copy a standby's slot sync made (PostgreSQL 17+). On a standby: the slot survives
   * promotion once synced and not temporary; on a promoted standby it stays true.
   */
  readonly synced: boolean | null;
  /** Temporary: a synced copy not yet persisted, dropped at promotion. */
  readonly temporary: boolean | null;
  /** Why the server gave the slot up (wal_removed, rows_removed, …; PostgreSQL 17+), null while valid. */
  readonly invalidationReason: string | null;
}

/** A boolean column read as text: null when the server has no such column or there is no slot. */
const flag = (v: string | null | undefined): boolean | null => (v === "true" ? true : v === "false" ? false : null);

export async function slotStatus(client: pg.Client, slot: string): Promise<SlotStatus> {
  const rows = await query<Record<string, string | null>>(
    client,
    `reading replication slot ${slot}`,
    `SELECT s.plugin, s.active::text AS active, s.active_pid::text AS active_pid, s.restart_lsn::text, s.confirmed_flush_lsn::text, s.wal_status,
            pg_wal_lsn_diff(one.cur, s.restart_lsn)::bigint::text AS retained,
            pg_wal_lsn_diff(one.cur, s.confirmed_flush_lsn)::bigint::text AS lag,
            one.cur::text AS current,
            s.temporary::text AS temporary,
            -- Columns of PostgreSQL 17+, read through to_jsonb so one query serves 14 to 18.
            to_jsonb(s) ->> 'failover' AS failover, to_jsonb(s) ->> 'synced' AS synced, to_jsonb(s) ->> 'invalidation_reason' AS invalidation_reason
       -- On a standby (a synced failover slot) the position replayed stands for the current one.
       FROM (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END AS cur) one
       LEFT JOIN pg_replication_slots s ON s.slot_name = $1 AND s.database = current_database()`,
    [slot],
  );
  const r = rows[0] ?? {};
  const exists = r["plugin"] !== null && r["plugin"] !== undefined;
  return {
    slot,
    exists,
    plugin: r["plugin"] ?? null,
    active: r["active"] === "true",
    activePid: r["active_pid"] ? Number(r["active_pid"]) : null,
    restartLsn: r["restart_lsn"] ?? null,
    confirmedFlushLsn: r["confirmed_flush_lsn"] ?? null,
    walStatus: r["wal_status"] ?? null,
    retainedWalBytes: r["retained"] ? Number(r["retained"]) : null,
    lagBytes: r["lag"] ? Number(r["lag"]) : null,
    currentLsn: r["current"] ?? "0/0",
    failover: flag(r["failover"]),
    synced: flag(r["synced"]),
    temporary: flag(r["temporary"]),
    invalidationReason: r["invalidation_reason"] ?? null,
  };
}

/** Drops the slot; refuses while a walsender uses it. */
export async function dropSlot(client: pg.Client, slot: string): Promise<boolean> {
  const status = await slotStatus(client, slot);
  if (!status.exists) return false;
  if (status.active) {
    throw new ZerolossError(
      "SLOT_ACTIVE",
      `replication slot ${slot} is in use by process ${status.activePid ?? "?"}; stop the producer first`,
      { details: { slot, pid: status.activePid } },
    );
  }
  await query(client, `dropping replication slot ${slot}`, "SELECT pg_drop_replication_slot($1)", [slot]);
  return true;
}
