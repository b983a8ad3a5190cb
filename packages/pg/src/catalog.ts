// What the source's catalog says about the published tables: which tables the include
// and exclude patterns choose, their columns and types, and the key each is replicated
// by. A table without a usable key is refused here, by name, with the fix.
import { quoteIdent } from "@zeroloss/checksum";
import { ZerolossError } from "@zeroloss/errors";
import type pg from "pg";
import { pgBool } from "./booleans.js";
import { query } from "./connect.js";

export interface TableName {
  readonly schema: string;
  readonly name: string;
}

export interface ColumnInfo {
  readonly name: string;
  readonly typeOid: number;
  readonly typeMod: number;
  /** format_type(): `numeric(18,4)`, `character varying(40)`, `timestamp with time zone`. */
  readonly sqlType: string;
  /** pg_attribute.attnum: stable while the column lives, through renames. */
  readonly attnum: number;
  /** The value rows older than the column hold (ADD COLUMN with a constant default), as text; absent when none. */
  readonly missing?: string;
}

export interface TableInfo extends TableName {
  readonly oid: number;
  readonly columns: readonly ColumnInfo[];
  /** The replica identity's columns, in index order: the primary key or the REPLICA IDENTITY index. */
  readonly keyColumns: readonly string[];
  /** pg_class.reltuples, or null when the table was never analyzed. */
  readonly estimatedRows: number | null;
}

export function qualifiedName(t: TableName): string {
  return `${t.schema}.${t.name}`;
}

/** `"schema"."table"`, quoted so case, spaces and keywords survive. */
export function quoteTable(t: TableName): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
}


function patternRegex(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`);
}

/** Does `schema.table` match a pattern such as `public.*` or `billing.payments`? */
export function matchesPattern(t: TableName, pattern: string): boolean {
  const dot = pattern.indexOf(".");
  const schemaPart = pattern.slice(0, dot);
  const tablePart = pattern.slice(dot + 1);
  return patternRegex(schemaPart).test(t.schema) && patternRegex(tablePart).test(t.name);
}

/** Schemas that are never the user's: the catalog's own, and zeroloss's bookkeeping. */
export const SYSTEM_SCHEMAS: readonly string[] = ["pg_catalog", "information_schema", "pg_toast", "zeroloss"];

/** The ordinary tables the patterns choose, sorted by schema and name. */
export async function resolveTables(
  client: pg.Client,
  include: readonly string[],
  exclude: readonly string[],
): Promise<TableName[]> {
  const rows = await query<{ schema: string; name: string }>(
    client,
    "listing the source's tables",
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND NOT n.nspname = ANY($1::text[]) AND n.nspname NOT LIKE 'pg_temp%'
      ORDER BY 1, 2`,
    [SYSTEM_SCHEMAS],
  );
  return rows.filter((t) => include.some((p) => matchesPattern(t, p)) && !exclude.some((p) => matchesPattern(t, p)));
}

/** Columns, key and size of one table, as the catalog says now. */
export async function describeTable(client: pg.Client, table: TableName): Promise<TableInfo> {
  const rel = await query<{ oid: string; relreplident: string; reltuples: string }>(
    client,
    `describing ${qualifiedName(table)}`,
    `SELECT c.oid, c.relreplident, c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [table.schema, table.name],
  );
  const r = rel[0];
  if (r === undefined) {
    throw new ZerolossError("TABLE_NOT_FOUND", `table ${qualifiedName(table)} does not exist in the source database`, {
      details: { table: qualifiedName(table) },
    });
  }
  const oid = Number(r.oid);
  const columns = await query<{ name: string; typeoid: string; typmod: string; sqltype: string; attnum: string }>(
    client,
    `reading the columns of ${qualifiedName(table)}`,
    `SELECT a.attname AS name, a.atttypid AS typeoid, a.atttypmod AS typmod, format_type(a.atttypid, a.atttypmod) AS sqltype, a.attnum
       FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
      ORDER BY a.attnum`,
    [oid],
  );
  const key = await readKeyColumns(client, oid, r.relreplident === "i", qualifiedName(table));
  const facts = await readColumnFacts(client, oid, qualifiedName(table));
  const reltuples = Number(r.reltuples);
  return {
    ...table,
    oid,
    columns: columns.map((c) => {
      const m = facts.get(c.name)?.missing;
      return { name: c.name, typeOid: Number(c.typeoid), typeMod: Number(c.typmod), sqlType: c.sqltype, attnum: Number(c.attnum), ...(m === undefined ? {} : { missing: m }) };
    }),
    keyColumns: r.relreplident === "n" ? [] : key,
    estimatedRows: reltuples >= 0 ? reltuples : null,
  };
}

/** What the catalog says of a column beyond its type: its attnum, and the value older rows hold. */
export interface ColumnFacts {
  readonly attnum: number;
  readonly missing?: string;
}

/**
 * Per column name: its attnum (stable through renames, so the consumer can tell a renamed
 * column from a dropped one and a new one) and, for a column added with a constant default
 * (ALTER TABLE … ADD COLUMN … DEFAULT 7), the value the rows that existed before it hold
 * without having been rewritten: PostgreSQL's attmissingval, as the type's text output. No
 * change is streamed for those rows, so the target needs the value to fill them alike. (A
 * volatile default rewrites the table instead, and its values are not in the stream: see
 * docs/consumer.md.) Array-typed columns get no value: their one-element attmissingval does
 * not read back as text exactly. Read when a Relation message arrives: the catalog of now,
 * which a later DDL may have moved on from (docs/consumer.md, "Schema changes").
 */
export async function readColumnFacts(client: pg.Client, relationOid: number, what: string): Promise<Map<string, ColumnFacts>> {
  const rows = await query<{ name: string; attnum: number; missing: string | null }>(
    client,
    `reading the column numbers and added columns' defaults of ${what}`,
    `SELECT a.attname AS name, a.attnum::int AS attnum,
            CASE WHEN a.atthasmissing AND t.typcategory <> 'A' THEN (a.attmissingval::text::text[])[1] END AS missing
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped`,
    [relationOid],
  );
  return new Map(rows.map((r) => [r.name, { attnum: Number(r.attnum), ...(r.missing === null ? {} : { missing: r.missing }) }]));
}

/**
 * The columns that identify a row, in index order: the REPLICA IDENTITY index when one is
 * set, else the primary key. (Under REPLICA IDENTITY FULL pgoutput flags every column as
 * part of the identity; the key that names a row, in Kafka and in the target, is still
 * the primary key.)
 */
export async function readKeyColumns(client: pg.Client, relationOid: number, usingIndex: boolean, what: string): Promise<string[]> {
  const rows = await query<{ name: string }>(
    client,
    `reading the key of ${what}`,
    `SELECT a.attname AS name
       FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND ${usingIndex ? "i.indisreplident" : "i.indisprimary"}
      ORDER BY k.ord`,
    [relationOid],
  );
  return rows.map((r) => r.name);
}

/** A key column as a snapshot's keyset pagination orders it. */
export interface KeyColumn {
  readonly name: string;
  /** format_type(), for a cast. */
  readonly type: string;
  /** Its collation, quoted, or null for a type without one. */
  readonly collation: string | null;
  /** How JavaScript can compare it the way PostgreSQL does; "sql" where only the server can. */
  readonly order: "integer" | "bytes" | "sql";
}

/** The key columns of a table (primary key or replica identity index), in key order, with how to compare them. */
export async function readKeyOrder(client: pg.Client, relationOid: number, what: string): Promise<KeyColumn[]> {
  const rows = await query<{ name: string; type: string; coll: string | null; bytewise: string | boolean }>(
    client,
    `reading the key of ${what}`,
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            CASE WHEN a.attcollation <> 0 THEN quote_ident(n.nspname) || '.' || quote_ident(co.collname) END AS coll,
            ((co.collprovider = 'c' AND co.collname IN ('C', 'POSIX'))
              OR (co.collname = 'default' AND (SELECT coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') = 'c' AND d.datcollate IN ('C', 'POSIX')
                                                 FROM pg_database d WHERE d.datname = current_database()))) AS bytewise
       FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid AND CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
       LEFT JOIN pg_collation co ON co.oid = a.attcollation LEFT JOIN pg_namespace n ON n.oid = co.collnamespace
      WHERE c.oid = $1 ORDER BY k.ord`,
    [relationOid],
  );
  return rows.map((r) => {
    const bytewise = pgBool(r.bytewise);
    const order = /^(smallint|integer|bigint)$/.test(r.type) ? "integer" : r.type === "uuid" || (bytewise && /^(text|character varying(\(\d+\))?)$/.test(r.type)) ? "bytes" : "sql";
    return { name: r.name, type: r.type, collation: r.coll, order };
  });
}

/**
 * Whether a row's key sorts after `after` (values in key order) the way the table's key
 * columns order it: integers, uuids and text under the C collation in JavaScript, anything
 * else by asking the server. `key` maps each key column to its value.
 */
export async function keyIsAfter(
  client: pg.Client,
  cols: readonly KeyColumn[],
  key: ReadonlyMap<string, string | null>,
  after: readonly (string | null)[],
  what: string,
): Promise<boolean> {
  if (cols.length === 0 || cols.length !== after.length || cols.some((c) => !key.has(c.name))) {
    throw new ZerolossError("KEY_CHANGED", `the key of ${what} is no longer the one its snapshot pages by (${cols.map((c) => c.name).join(", ")})`, { details: { table: what } });
  }
  const values = cols.map((c) => key.get(c.name) ?? null);
  if (cols.every((c) => c.order !== "sql") && values.every((v) => v !== null) && after.every((v) => v !== null)) {
    for (let i = 0; i < cols.length; i++) {
      const [a, b] = [values[i] as string, after[i] as string];
      const cmp = cols[i]?.order === "integer" ? (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0) : Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
      if (cmp !== 0) return cmp > 0;
    }
    return false;
  }
  const cast = (c: KeyColumn, p: number) => `$${p}::${c.type}${c.collation === null ? "" : ` COLLATE ${c.collation}`}`;
  const n = cols.length;
  const rows = await query<{ after: string | boolean }>(
    client,
    `comparing a key of ${what} with its snapshot's progress`,
    `SELECT ROW(${cols.map((c, i) => cast(c, i + 1)).join(", ")}) > ROW(${cols.map((c, i) => cast(c, n + i + 1)).join(", ")}) AS after`,
    [...values, ...after],
  );
  return pgBool(rows[0]?.after);
}

function missingKeyMessage(info: TableInfo): string {
  const name = qualifiedName(info);
  return (
    `table ${name} has no primary key and no REPLICA IDENTITY USING INDEX, so its updates and deletes cannot be ` +
    `matched to rows in the target. Fix: ALTER TABLE ${quoteTable(info)} ADD PRIMARY KEY (...); or create a unique ` +
    `index on NOT NULL columns and run ALTER TABLE ${quoteTable(info)} REPLICA IDENTITY USING INDEX <index>; ` +
    `or leave the table out with source.exclude: ["${name}"]`
  );
}

/**
 * Refuses tables whose changes could not be told apart by key (no primary key, no
 * REPLICA IDENTITY USING INDEX, or REPLICA IDENTITY NOTHING), naming every one at once.
 */
export function requireKeys(infos: readonly TableInfo[]): void {
  const problems = infos.filter((i) => i.keyColumns.length === 0);
  if (problems.length === 0) return;
  const messages = problems.map(missingKeyMessage);
  throw new ZerolossError(
    "TABLE_WITHOUT_KEY",
    problems.length === 1 ? (messages[0] as string) : `${problems.length} tables cannot be replicated:\n  - ${messages.join("\n  - ")}`,
    { details: { tables: problems.map(qualifiedName) } },
  );
}

/** format_type() for a (type oid, typmod) pair, as a relation message gives them. */
export class TypeNames {
  private readonly cache = new Map<string, string>();
  constructor(private readonly client: pg.Client) {}

  async resolve(typeOid: number, typeMod: number): Promise<string> {
    const k = `${typeOid}:${typeMod}`;
    const known = this.cache.get(k);
    if (known !== undefined) return known;
    const rows = await query<{ t: string }>(this.client, `resolving type ${typeOid}`, "SELECT format_type($1, $2) AS t", [typeOid, typeMod]);
    const name = rows[0]?.t ?? `oid:${typeOid}`;
    this.cache.set(k, name);
    return name;
  }
}
