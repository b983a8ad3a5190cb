// A target table as the consumer sees it before writing to it: its columns (with whether a
// row that does not name one can still be inserted) and its primary key. The consumer fits
// the table to the source's column list from this; `zeroloss check` compares the same facts.
import type pg from "pg";
import { pgBool } from "./booleans.js";
import { quoteTable, type TableName } from "./catalog.js";
import { query } from "./connect.js";

export interface TargetTableColumn {
  readonly name: string;
  /** format_type() as the target prints it. */
  readonly type: string;
  /** NOT NULL without a default: a row that does not name it cannot be inserted. */
  readonly required: boolean;
}

export interface TargetTableShape {
  readonly columns: readonly TargetTableColumn[];
  /** The primary key's columns, in index order; empty without one. */
  readonly key: readonly string[];
}

/** The table's columns and primary key, or null when the target has no such table. */
export async function readTargetTable(client: pg.Client, table: TableName): Promise<TargetTableShape | null> {
  const rel = await query<{ oid: string | null }>(client, `looking up target table ${quoteTable(table)}`, "SELECT to_regclass($1)::oid AS oid", [quoteTable(table)]);
  const oid = rel[0]?.oid ?? null;
  if (oid === null) return null;
  const columns = await query<{ name: string; type: string; required: boolean | string }>(
    client,
    `reading the columns of target table ${quoteTable(table)}`,
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AND NOT atthasdef AS required FROM pg_attribute
      WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [oid],
  );
  const key = await query<{ name: string }>(
    client,
    `reading the primary key of target table ${quoteTable(table)}`,
    `SELECT a.attname AS name FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord`,
    [oid],
  );
  return { columns: columns.map((c) => ({ ...c, required: pgBool(c.required) })), key: key.map((k) => k.name) };
}
