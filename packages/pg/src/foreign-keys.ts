// Foreign keys that touch a set of tables: those the tables carry and those of other tables
// that reference them. The consumer applies each partition in its own transactions, so rows
// of two related tables (or of one table, across partitions) reach the target in no common
// order, and such a constraint can refuse a row whose parent is still on its way.
import type pg from "pg";
import type { TableName } from "./catalog.js";
import { query } from "./connect.js";

export interface ForeignKey {
  readonly name: string;
  /** The table that carries the constraint. */
  readonly table: TableName;
  /** The table it references. */
  readonly references: TableName;
  /** pg_get_constraintdef(): `FOREIGN KEY (account_id) REFERENCES accounts(id)`. */
  readonly definition: string;
}

/** Every foreign key on one of `tables` or referencing one, by table and name. */
export async function readForeignKeys(client: pg.Client, tables: readonly TableName[]): Promise<ForeignKey[]> {
  if (tables.length === 0) return [];
  const rows = await query<{ name: string; schema: string; tbl: string; ref_schema: string; ref_table: string; def: string }>(
    client,
    "reading the foreign keys of the target tables",
    `WITH chosen AS (
       SELECT c.oid FROM unnest($1::text[], $2::text[]) AS t(schema, name)
         JOIN pg_namespace n ON n.nspname = t.schema JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name)
     SELECT k.conname AS name, tn.nspname AS schema, tc.relname AS tbl, rn.nspname AS ref_schema, rc.relname AS ref_table, pg_get_constraintdef(k.oid) AS def
       FROM pg_constraint k
       JOIN pg_class tc ON tc.oid = k.conrelid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
       JOIN pg_class rc ON rc.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
      WHERE k.contype = 'f' AND (k.conrelid IN (SELECT oid FROM chosen) OR k.confrelid IN (SELECT oid FROM chosen))
      ORDER BY 2, 3, 1`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  return rows.map((r) => ({ name: r.name, table: { schema: r.schema, name: r.tbl }, references: { schema: r.ref_schema, name: r.ref_table }, definition: r.def }));
}
