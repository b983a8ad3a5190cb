// Which database a side was, for the certificate: the cluster's system identifier (unique per
// initdb, so a restored copy under the same name is told apart only by content, a different
// cluster by this), the database, where it was reached, and its version. The URL's user and
// password are never written.
import { isZerolossError } from "@zeroloss/errors";
import { query, type Client } from "@zeroloss/pg";
import type { DatabaseIdentity } from "./types.js";

/** host:port of a PostgreSQL URL, without credentials; the socket folder for a socket URL. */
export function hostPort(url: string): string {
  try {
    const u = new URL(url);
    const host = u.hostname !== "" ? u.hostname : (u.searchParams.get("host") ?? "localhost");
    return `${host}:${u.port !== "" ? u.port : "5432"}`;
  } catch {
    return "(unparsable URL)";
  }
}

export async function readIdentity(client: Client, url: string, side: string): Promise<DatabaseIdentity> {
  const base = await query<{ database: string; version: string }>(
    client,
    `reading the ${side}'s name and version`,
    "SELECT current_database() AS database, current_setting('server_version') AS version",
  );
  let systemIdentifier: string | null = null;
  try {
    const rows = await query<{ id: string }>(client, `reading the ${side}'s system identifier`, "SELECT system_identifier::text AS id FROM pg_control_system()");
    systemIdentifier = rows[0]?.id ?? null;
  } catch (err) {
    // pg_control_system() is for superusers and pg_monitor unless granted: the certificate says "not readable" rather than fail.
    if (!isZerolossError(err) || err.code !== "PG_PRIVILEGE_MISSING") throw err;
  }
  return { systemIdentifier, database: base[0]?.database ?? "", hostPort: hostPort(url), serverVersion: base[0]?.version ?? "" };
}
