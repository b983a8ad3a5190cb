// Sequences that belong to a set of tables' columns (serial, identity, OWNED BY). Logical
// replication carries rows, not sequence positions: the target's sequence stays where it was
// made while the rows its column holds come from the source's.
import type pg from "pg";
import type { TableName } from "./catalog.js";
import { query } from "./connect.js";

export interface OwnedSequence {
  readonly sequence: TableName;
  readonly table: TableName;
  readonly column: string;
  /** identity (GENERATED … AS IDENTITY) or owned (serial, OWNED BY). */
  readonly kind: "identity" | "owned";
}

/** The sequences owned by the tables' columns, by table, column. */
export async function readOwnedSequences(client: pg.Client, tables: readonly TableName[]): Promise<OwnedSequence[]> {
  if (tables.length === 0) return [];
  const rows = await query<{ seq_schema: string; seq: string; schema: string; tbl: string; col: string; deptype: string }>(
    client,
    "reading the sequences the tables own",
    `SELECT sn.nspname AS seq_schema, s.relname AS seq, t.schema, t.name AS tbl, a.attname AS col, d.deptype::text AS deptype
       FROM unnest($1::text[], $2::text[]) AS t(schema, name)
       JOIN pg_namespace n ON n.nspname = t.schema JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name
       JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
       JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid
      ORDER BY 3, 4, 5`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  return rows.map((r) => ({ sequence: { schema: r.seq_schema, name: r.seq }, table: { schema: r.schema, name: r.tbl }, column: r.col, kind: r.deptype === "i" ? "identity" : "owned" }));
}
