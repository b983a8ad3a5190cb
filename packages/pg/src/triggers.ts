// User triggers on a set of tables. The consumer writes target rows with ordinary INSERT,
// UPDATE and DELETE statements in the default session_replication_role (origin), so every
// enabled trigger fires on each row it applies, and again on a replay.
import type pg from "pg";
import type { TableName } from "./catalog.js";
import { query } from "./connect.js";

export interface Trigger {
  readonly name: string;
  readonly table: TableName;
  /** pg_trigger.tgenabled: O fires in origin and local mode, A always, R only in replica mode, D never. */
  readonly enabled: "O" | "A" | "R" | "D";
  /** pg_get_triggerdef(). */
  readonly definition: string;
}

/** The tables' triggers other than internal ones (those behind constraints), by table and name. */
export async function readTriggers(client: pg.Client, tables: readonly TableName[]): Promise<Trigger[]> {
  if (tables.length === 0) return [];
  const rows = await query<{ name: string; schema: string; tbl: string; enabled: string; def: string }>(
    client,
    "reading the triggers of the target tables",
    `SELECT g.tgname AS name, t.schema, t.name AS tbl, g.tgenabled::text AS enabled, pg_get_triggerdef(g.oid) AS def
       FROM unnest($1::text[], $2::text[]) AS t(schema, name)
       JOIN pg_namespace n ON n.nspname = t.schema JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name
       JOIN pg_trigger g ON g.tgrelid = c.oid AND NOT g.tgisinternal
      ORDER BY 2, 3, 1`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  return rows.map((r) => ({ name: r.name, table: { schema: r.schema, name: r.tbl }, enabled: r.enabled as Trigger["enabled"], definition: r.def }));
}
