// Foreign keys that touch a set of tables: those the tables carry and those of other tables
// that reference them. The consumer applies each partition in its own transactions, so rows
// of two related tables (or of one table, across partitions) reach the target in no common
// order, and such a constraint can refuse a row whose parent is still on its way.
//
// Partitioned tables: a key that references a partitioned table has, besides its own
// pg_constraint row, one internal copy per partition of the referenced table (same
// referencing table, confrelid the partition). Those copies are left out: each covers only
// one partition's rows, so checking a row against one would call every row that references
// another partition an orphan. A chosen table that is such a partition brings in the key
// on its partitioned ancestor instead. Copies on the referencing side (one per partition of
// a partitioned referencing table, referencing the whole referenced table) are real keys
// and kept.
import type pg from "pg";
import { pgBool } from "./booleans.js";
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
  /** The referencing columns of `table`, in the constraint's order (conkey). */
  readonly columns: readonly string[];
  /** The referenced columns of `references`, pairwise with `columns` (confkey). */
  readonly referencedColumns: readonly string[];
  /** MATCH FULL (confmatchtype 'f'); otherwise MATCH SIMPLE, PostgreSQL's default. */
  readonly matchFull: boolean;
  /** False for a constraint added NOT VALID and not validated since (convalidated). */
  readonly validated: boolean;
}

/** Every foreign key on one of `tables` or referencing one, by table and name. */
export async function readForeignKeys(client: pg.Client, tables: readonly TableName[]): Promise<ForeignKey[]> {
  if (tables.length === 0) return [];
  const rows = await query<{
    name: string;
    schema: string;
    tbl: string;
    ref_schema: string;
    ref_table: string;
    def: string;
    columns: unknown;
    referenced_columns: unknown;
    match_full: unknown;
    validated: unknown;
  }>(
    client,
    "reading the foreign keys of the target tables",
    `WITH chosen AS (
       SELECT c.oid FROM unnest($1::text[], $2::text[]) AS t(schema, name)
         JOIN pg_namespace n ON n.nspname = t.schema JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name)
     SELECT k.conname AS name, tn.nspname AS schema, tc.relname AS tbl, rn.nspname AS ref_schema, rc.relname AS ref_table, pg_get_constraintdef(k.oid) AS def,
            (SELECT json_agg(a.attname ORDER BY u.ord) FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum) AS columns,
            (SELECT json_agg(a.attname ORDER BY u.ord) FROM unnest(k.confkey) WITH ORDINALITY AS u(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum) AS referenced_columns,
            k.confmatchtype = 'f' AS match_full, k.convalidated AS validated
       FROM pg_constraint k
       JOIN pg_class tc ON tc.oid = k.conrelid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
       JOIN pg_class rc ON rc.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
      WHERE k.contype = 'f'
        AND (k.conrelid IN (SELECT oid FROM chosen) OR k.confrelid IN (SELECT oid FROM chosen UNION ALL SELECT pg_partition_ancestors(oid) FROM chosen))
        AND NOT EXISTS (SELECT 1 FROM pg_constraint p WHERE p.oid = k.conparentid AND p.conrelid = k.conrelid)
      ORDER BY 2, 3, 1`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  return rows.map((r) => ({
    name: r.name,
    table: { schema: r.schema, name: r.tbl },
    references: { schema: r.ref_schema, name: r.ref_table },
    definition: r.def,
    columns: columnNames(r.columns),
    referencedColumns: columnNames(r.referenced_columns),
    matchFull: pgBool(r.match_full),
    validated: pgBool(r.validated),
  }));
}

/** A json_agg of column names, as JSON text (zeroloss's raw-text connections) or parsed. */
function columnNames(v: unknown): string[] {
  const parsed: unknown = typeof v === "string" ? JSON.parse(v) : v;
  if (!Array.isArray(parsed) || !parsed.every((x): x is string => typeof x === "string")) {
    throw new TypeError(`readForeignKeys: expected a JSON array of column names, got ${JSON.stringify(v)}`);
  }
  return parsed;
}
