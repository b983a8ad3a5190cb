// The read-only write fence of `zeroloss cutover`: the source stops taking writes from the
// application's login roles, and the fence can be undone exactly. This file owns that role
// setting and nothing else; write-quiet.ts decides when writes have actually stopped.
//
// How: `ALTER ROLE <role> IN DATABASE <this database> SET default_transaction_read_only = on`.
// A setting for a role in one database is the most specific of the stored settings
// (pg_db_role_setting; it beats the role's own, the database's and postgresql.conf), so every
// new session of the role in this database starts read-only; then the role's open sessions
// are terminated, as they keep the default they started with. What the role had before
// (its database-specific value, or none) is read first and handed back, so unfenceRoles puts
// back exactly that and not merely "off".
//
// The limits, which the cutover covers by waiting for quiet and checking the table counters
// after the fence (write-quiet.ts): default_transaction_read_only is a default, so a session
// that asks for `BEGIN READ WRITE` or `SET default_transaction_read_only = off` still writes;
// and a session that read its settings just before the commit but registered in
// pg_stat_activity just after the terminations escapes them (a window of microseconds).
//
// The role zeroloss itself connects as is refused: the producer writes its watermarks to the
// source through it, and the cutover needs them to drain the stream.
import { ZerolossError } from "@zeroloss/errors";
import { quoteIdent, quoteLiteral } from "@zeroloss/checksum";
import type pg from "pg";
import { pgBool } from "./booleans.js";
import { query } from "./connect.js";
import { inTransaction } from "./transaction.js";

const SETTING = "default_transaction_read_only";

/** A role's database-specific default_transaction_read_only, as it was before the fence. */
export interface RoleFenceState {
  readonly role: string;
  /** The value the role had for this database (`on`, `off`, …); null: it had none. */
  readonly previous: string | null;
}

export interface RoleFenced extends RoleFenceState {
  /** Sessions of the role in this database that were terminated after the fence was set. */
  readonly terminated: number;
}

export interface RoleUnfenced {
  readonly role: string;
  /** What the role's database-specific setting is again; null: none (RESET). */
  readonly restored: string | null;
  /** Sessions of the role in this database that were terminated so they reconnect writable. */
  readonly terminated: number;
}

interface Connection {
  readonly currentUser: string;
  readonly sessionUser: string;
  readonly database: string;
  /** Superuser, or a member of pg_signal_backend: may terminate any non-superuser's session. */
  readonly canSignal: boolean;
}

interface RoleRow {
  readonly role: string;
  readonly oid: string;
  readonly previous: string | null;
  /** The connection has the role's privileges, which is enough to terminate its sessions. */
  readonly actsAs: boolean;
}

const ALTER_PRIVILEGE = "CREATEROLE (and, from PostgreSQL 16, ADMIN OPTION on the role) or superuser, which ALTER ROLE … IN DATABASE … SET needs";
const SIGNAL_PRIVILEGE = "membership in pg_signal_backend (GRANT pg_signal_backend TO <zeroloss role>) or superuser, which terminating other roles' sessions needs";

async function readConnection(client: pg.Client): Promise<Connection> {
  const rows = await query<{ current_user: string; session_user: string; db: string; can_signal: unknown }>(
    client,
    "reading the connection's role and database",
    `SELECT current_user AS current_user, session_user AS session_user, current_database() AS db,
            pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS can_signal`,
  );
  const row = rows[0];
  if (row === undefined) throw new ZerolossError("PG_FAILED", "reading the connection's role and database returned no row");
  return { currentUser: row.current_user, sessionUser: row.session_user, database: row.db, canSignal: pgBool(row.can_signal) };
}

/** The roles in the order given, each with its oid and database-specific setting; an unknown role is refused. */
async function readRoles(client: pg.Client, roles: readonly string[]): Promise<RoleRow[]> {
  const rows = await query<{ role: string; oid: string | null; previous: string | null; acts_as: unknown }>(
    client,
    `reading the ${SETTING} setting of roles ${roles.join(", ")}`,
    // setconfig holds "name=value" entries; the name is compared without case as PostgreSQL
    // compares setting names, and the value is everything after the first "=".
    `SELECT r.name AS role, ro.oid::text AS oid,
            (SELECT substr(c, strpos(c, '=') + 1)
               FROM pg_db_role_setting s, unnest(s.setconfig) AS c
              WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
                AND s.setrole = ro.oid AND lower(split_part(c, '=', 1)) = $2) AS previous,
            CASE WHEN ro.oid IS NULL THEN false ELSE pg_has_role(current_user, ro.oid, 'USAGE') END AS acts_as
       FROM unnest($1::text[]) WITH ORDINALITY AS r(name, ord)
       LEFT JOIN pg_roles ro ON ro.rolname = r.name
      ORDER BY r.ord`,
    [roles, SETTING],
  );
  const unknown = rows.filter((r) => r.oid === null).map((r) => r.role);
  if (unknown.length > 0) {
    throw new ZerolossError("FENCE_ROLE_UNKNOWN", `role ${unknown.join(", ")} does not exist on the source; nothing was changed: name the roles the application logs in as`, {
      details: { roles: unknown },
    });
  }
  return rows.map((r) => ({ role: r.role, oid: r.oid ?? "", previous: r.previous, actsAs: pgBool(r.acts_as) }));
}

/** The roles once each, in the order first given. */
function distinct(roles: readonly string[]): string[] {
  return [...new Set(roles)];
}

/**
 * Refuses, before anything changes, the connection's own role (zeroloss must keep writing)
 * and roles whose sessions the connection may not terminate.
 */
function checkFenceable(conn: Connection, roles: readonly RoleRow[], doing: string): void {
  const own = roles.filter((r) => r.role === conn.currentUser || r.role === conn.sessionUser).map((r) => r.role);
  if (own.length > 0) {
    throw new ZerolossError(
      "FENCE_ROLE_SELF",
      `${doing}: role ${own.join(", ")} is the role zeroloss connects to the source as; its sessions must keep writing (the producer writes its watermarks through them), so it cannot be fenced; nothing was changed: connect zeroloss as a role of its own, and name only the application's roles`,
      { details: { roles: own } },
    );
  }
  const unsignalable = conn.canSignal ? [] : roles.filter((r) => !r.actsAs).map((r) => r.role);
  if (unsignalable.length > 0) {
    throw new ZerolossError(
      "FENCE_PRIVILEGE",
      `${doing}: role ${conn.currentUser} may not terminate the sessions of ${unsignalable.join(", ")}; it needs ${SIGNAL_PRIVILEGE}; nothing was changed`,
      { details: { role: conn.currentUser, privilege: "pg_signal_backend", roles: unsignalable } },
    );
  }
}

function sqlState(err: unknown): string | undefined {
  if (!(err instanceof ZerolossError)) return undefined;
  const s = err.details["sqlstate"];
  return typeof s === "string" ? s : undefined;
}

/** One ALTER ROLE … IN DATABASE; a privilege failure says which privilege. */
async function alterRole(client: pg.Client, conn: Connection, role: string, value: string | null): Promise<void> {
  const what = value === null ? "RESET" : `SET … = ${value}`;
  const sql =
    `ALTER ROLE ${quoteIdent(role)} IN DATABASE ${quoteIdent(conn.database)} ` + (value === null ? `RESET ${SETTING}` : `SET ${SETTING} = ${quoteLiteral(value)}`);
  try {
    await query(client, `setting ${SETTING} of role ${role} in database ${conn.database} (${what})`, sql);
  } catch (err) {
    if (sqlState(err) !== "42501") throw err;
    throw new ZerolossError(
      "FENCE_PRIVILEGE",
      `role ${conn.currentUser} may not change the settings of role ${role}: it needs ${ALTER_PRIVILEGE}; nothing was changed`,
      { cause: err, details: { role: conn.currentUser, privilege: "CREATEROLE", target: role } },
    );
  }
}

/** Terminates every session of the roles in this database but the caller's own; per role, how many. */
async function terminateSessions(client: pg.Client, conn: Connection, roles: readonly RoleRow[], after: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>(roles.map((r) => [r.role, 0]));
  const byOid = new Map(roles.map((r) => [r.oid, r.role]));
  let rows: { oid: string; ok: unknown }[];
  try {
    rows = await query<{ oid: string; ok: unknown }>(
      client,
      `terminating the sessions of ${roles.map((r) => r.role).join(", ")} in database ${conn.database}`,
      `SELECT a.usesysid::text AS oid, pg_terminate_backend(a.pid) AS ok
         FROM pg_stat_activity a
        WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.usesysid = ANY($1::oid[])`,
      [roles.map((r) => r.oid)],
    );
  } catch (err) {
    if (sqlState(err) !== "42501") throw err;
    throw new ZerolossError(
      "FENCE_PRIVILEGE",
      `${after}, but role ${conn.currentUser} may not terminate the open sessions of ${roles.map((r) => r.role).join(", ")}: it needs ${SIGNAL_PRIVILEGE}; those sessions keep their old default until they reconnect`,
      { cause: err, details: { role: conn.currentUser, privilege: "pg_signal_backend" } },
    );
  }
  for (const r of rows) {
    const role = byOid.get(r.oid);
    // false: the session ended by itself between the scan and the signal.
    if (role !== undefined && pgBool(r.ok)) counts.set(role, (counts.get(role) ?? 0) + 1);
  }
  return counts;
}

/** Each role's database-specific default_transaction_read_only in the connection's database; an unknown role is refused. */
export async function readRoleFenceState(client: pg.Client, roles: readonly string[]): Promise<RoleFenceState[]> {
  if (roles.length === 0) return [];
  const rows = await readRoles(client, distinct(roles));
  // Refused here too, so a caller that records this state before fencing never records a fence that cannot be set.
  checkFenceable(await readConnection(client), rows, "reading the roles to fence");
  return rows.map((r) => ({ role: r.role, previous: r.previous }));
}

/**
 * Makes every new session of `roles` in the connection's database read-only, all roles or
 * none (one transaction), then terminates their open sessions there. Refused before anything
 * changes for an empty list, an unknown role, the connection's own role, or a connection
 * that could not terminate the roles' sessions. Returns what unfenceRoles needs to undo it.
 *
 * Keep the first result: fencing a fenced role again reads the fence's own `on` as its
 * previous value.
 */
export async function fenceRoles(client: pg.Client, roles: readonly string[]): Promise<RoleFenced[]> {
  if (roles.length === 0) {
    throw new ZerolossError("FENCE_NO_ROLES", "the read-only fence was given no roles: name the login roles the application writes to the source as");
  }
  const { conn, fenced } = await inTransaction(client, "the read-only fence", async () => {
    const conn = await readConnection(client);
    const fenced = await readRoles(client, distinct(roles));
    checkFenceable(conn, fenced, "fencing the application's roles");
    for (const r of fenced) await alterRole(client, conn, r.role, "on");
    return { conn, fenced };
  });
  const terminated = await terminateSessions(
    client,
    conn,
    fenced,
    `new sessions of ${fenced.map((r) => r.role).join(", ")} in database ${conn.database} are read-only now`,
  );
  return fenced.map((r) => ({ role: r.role, previous: r.previous, terminated: terminated.get(r.role) ?? 0 }));
}

/**
 * Undoes fenceRoles: puts back each role's database-specific setting exactly as `previous`
 * says (RESET where it had none), all roles or none, then terminates the roles' sessions in
 * the connection's database so that pools reconnect writable. Roles already at their old
 * setting are left alone (their sessions too): running it again changes nothing.
 */
export async function unfenceRoles(client: pg.Client, previous: readonly RoleFenceState[]): Promise<RoleUnfenced[]> {
  if (previous.length === 0) return [];
  const wanted = new Map<string, string | null>();
  for (const p of previous) if (!wanted.has(p.role)) wanted.set(p.role, p.previous);
  const { conn, rows, unchanged } = await inTransaction(client, "lifting the read-only fence", async () => {
    const conn = await readConnection(client);
    const all = await readRoles(client, [...wanted.keys()]);
    // A role already at its old setting (the fence was never set, or was lifted) needs nothing:
    // lifting a fence that failed to be set works even where setting it was refused.
    const rows = all.filter((r) => r.previous !== (wanted.get(r.role) ?? null));
    if (rows.length > 0) checkFenceable(conn, rows, "lifting the fence");
    for (const r of rows) await alterRole(client, conn, r.role, wanted.get(r.role) ?? null);
    return { conn, rows, unchanged: all.filter((r) => !rows.includes(r)) };
  });
  if (rows.length === 0) return unchanged.map((r) => ({ role: r.role, restored: wanted.get(r.role) ?? null, terminated: 0 }));
  const terminated = await terminateSessions(client, conn, rows, `the settings of ${rows.map((r) => r.role).join(", ")} in database ${conn.database} are restored`);
  return [...rows, ...unchanged].map((r) => ({ role: r.role, restored: wanted.get(r.role) ?? null, terminated: terminated.get(r.role) ?? 0 }));
}
