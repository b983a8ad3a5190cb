// A table's content hash, defined once and run on both sides: each database computes, over
// its own rows, the canonical row checksum (checksumSql over each column's text output, the
// same expression the consumer and the verifier use) and hashes those checksums in key order:
//   sha256(rowsum₁ ‖ rowsum₂ ‖ … ) over the raw 32-byte checksums, plus count(*).
// Only the source's columns are hashed (by name), so the target's hidden `_zeroloss_lsn` is
// left out by construction, and a target column the source lacks is not looked at.
//
// This reads the whole table in one statement: a terabyte table is a terabyte read, and
// string_agg holds 32 bytes per row in memory (a billion rows: 32 GB of work_mem spill).
// The cutover runs it with writes stopped; the verifier's per-range hashes are the tool for
// a table that is still being written.
//
// Key order is the key columns' own ORDER BY, so both sides must sort the key alike (the same
// collation for a text key: a target created by zeroloss has the source's). A table without a
// key is hashed in the order of the row checksums themselves, which is the same on both sides
// for the same multiset of rows.
import { checksumSql, quoteIdent, textOutputSql } from "@zeroloss/checksum";
import { query, quoteTable, type Client, type TableName } from "@zeroloss/pg";
import type { TableDigest } from "./types.js";

/** What a table is hashed by: its name, the source's columns and its key, in order. */
export interface HashedTable extends TableName {
  readonly columns: readonly string[];
  readonly key: readonly string[];
}

/** One row: `rows` (bigint as text) and `hash` (hex). The same SQL for the source and the target. */
export function tableHashSql(table: HashedTable): string {
  const col = (name: string) => `t.${quoteIdent(name)}`;
  const rowsum = checksumSql(table.columns.map((name) => ({ name, textSql: textOutputSql(col(name)) })));
  // A keyless table is ordered by the checksum itself, so equal multisets of rows give equal hashes.
  const orderBy = table.key.length > 0 ? table.key.map(col).join(", ") : `decode(${rowsum}, 'hex')`;
  return (
    `SELECT count(*)::text AS rows, ` +
    `encode(sha256(coalesce(string_agg(decode(${rowsum}, 'hex'), ''::bytea ORDER BY ${orderBy}), ''::bytea)), 'hex') AS hash ` +
    `FROM ${quoteTable(table)} t`
  );
}

export async function hashTable(client: Client, table: HashedTable, side: string): Promise<TableDigest> {
  const rows = await query<{ rows: string; hash: string }>(client, `hashing ${table.schema}.${table.name} on the ${side}`, tableHashSql(table));
  const r = rows[0];
  // An aggregate without GROUP BY always returns one row.
  return { rows: Number(r?.rows ?? 0), hash: r?.hash ?? "" };
}

/** Whether the table exists on this side (the target may lack one the source has). */
export async function tableExists(client: Client, table: TableName): Promise<boolean> {
  const rows = await query<{ oid: string | null }>(client, `looking for ${table.schema}.${table.name}`, "SELECT to_regclass($1)::oid::text AS oid", [quoteTable(table)]);
  return rows[0]?.oid !== null && rows[0]?.oid !== undefined;
}
