// The SQL the verifier sends to each database, built from one table's plan for one side.
// Every identifier is quoted; every key value travels as a parameter in PostgreSQL's text
// form and is cast back with the side's own column type, so a range means the same rows
// on both servers whatever the key's type.
import { checksumSql, quoteIdent, textOutputSql } from "@zeroloss/checksum";

/** One side of a table: how to name it and the types of its columns there. */
export interface SideTable {
  /** `"schema"."table"`, quoted. */
  readonly quoted: string;
  /** The columns compared, in the source's order (the canonical checksum's order). */
  readonly columns: readonly string[];
  /** The key columns, in key order. */
  readonly key: readonly string[];
  /** format_type() of each key column on this side, in key order. */
  readonly keyTypes: readonly string[];
}

/** Key values in PostgreSQL's text output, for a prefix of the key columns (a bound) or all of them (a row). */
export type KeyValues = readonly string[];

/** Rows with lo <= key < hi; an absent bound is open. Bounds may name a prefix of the key. */
export interface KeyRange {
  readonly lo: KeyValues | null;
  readonly hi: KeyValues | null;
}

export const WHOLE_TABLE: KeyRange = { lo: null, hi: null };

export interface Statement {
  readonly sql: string;
  readonly params: string[];
}

const col = (name: string) => `t.${quoteIdent(name)}`;

function bound(side: SideTable, values: KeyValues, op: ">=" | "<" | "=", params: string[]): string {
  const cols = values.map((_, i) => col(side.key[i]!));
  const args = values.map((v, i) => {
    params.push(v);
    return `$${params.length}::${side.keyTypes[i]!}`;
  });
  return `(${cols.join(", ")}) ${op} (${args.join(", ")})`;
}

/** The WHERE condition of a range (`true` for the whole table), appending its parameters. */
export function rangeCondition(side: SideTable, range: KeyRange, params: string[]): string {
  const parts: string[] = [];
  if (range.lo !== null) parts.push(bound(side, range.lo, ">=", params));
  if (range.hi !== null) parts.push(bound(side, range.hi, "<", params));
  return parts.length === 0 ? "true" : parts.join(" AND ");
}

/** The canonical row checksum (packages/checksum) of a row of `t`, over the compared columns. */
export function rowChecksumSql(side: SideTable): string {
  return checksumSql(side.columns.map((name) => ({ name, textSql: textOutputSql(col(name)) })));
}

/** The key values of a result row of the statements below (columns k0, k1, ...). */
export function keyOf(side: SideTable, row: Readonly<Record<string, string | null>>): KeyValues {
  return side.key.map((_, i) => row[`k${i}`]!);
}

const keyOutputs = (side: SideTable) => side.key.map((k, i) => `${textOutputSql(col(k))} AS k${i}`).join(", ");
const keyOrder = (side: SideTable) => side.key.map(col).join(", ");

/**
 * Count and an order-independent hash of a range: the sums (as numeric, no overflow) of the
 * first and second 64 bits of every row's SHA-256 checksum. Equal tables give equal sums
 * whatever the physical order; a changed, missing or extra row changes them.
 */
export function rangeHash(side: SideTable, range: KeyRange): Statement {
  const params: string[] = [];
  const where = rangeCondition(side, range, params);
  return {
    sql:
      `SELECT count(*)::text AS n,` +
      ` coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::int8::numeric), 0)::text AS a,` +
      ` coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::int8::numeric), 0)::text AS b` +
      ` FROM (SELECT ${rowChecksumSql(side)} AS h FROM ${side.quoted} t WHERE ${where}) s`,
    params,
  };
}

/** The keys that start each of the range's sub-ranges of `step` rows (the first sub-range's start excluded). */
export function splitPoints(side: SideTable, range: KeyRange, step: number): Statement {
  const params: string[] = [];
  const where = rangeCondition(side, range, params);
  params.push(String(step));
  const outs = side.key.map((_, i) => `k${i}`).join(", ");
  return {
    sql:
      `SELECT ${outs} FROM (SELECT ${keyOutputs(side)}, row_number() OVER (ORDER BY ${keyOrder(side)}) AS rn` +
      ` FROM ${side.quoted} t WHERE ${where}) s WHERE rn > 1 AND rn % $${params.length}::int8 = 1 ORDER BY rn`,
    params,
  };
}

/** Every row of a range as (key values, checksum). */
export function rangeRows(side: SideTable, range: KeyRange): Statement {
  const params: string[] = [];
  const where = rangeCondition(side, range, params);
  return { sql: `SELECT ${keyOutputs(side)}, ${rowChecksumSql(side)} AS h FROM ${side.quoted} t WHERE ${where}`, params };
}

/** (key values, checksum) of the rows with the given keys (absent keys give no row). */
export function rowsByKey(side: SideTable, keys: readonly KeyValues[]): Statement {
  const params: string[] = [];
  const tuples = keys.map((k) => `(${k.map((v, i) => (params.push(v), `$${params.length}::${side.keyTypes[i]!}`)).join(", ")})`);
  return {
    sql: `SELECT ${keyOutputs(side)}, ${rowChecksumSql(side)} AS h FROM ${side.quoted} t WHERE (${keyOrder(side)}) IN (${tuples.join(", ")})`,
    params,
  };
}

/** Every compared column's text output of one row (c0, c1, ... in column order). */
export function rowValues(side: SideTable, key: KeyValues): Statement {
  const params: string[] = [];
  const where = bound(side, key, "=", params);
  return { sql: `SELECT ${side.columns.map((c, i) => `${textOutputSql(col(c))} AS c${i}`).join(", ")} FROM ${side.quoted} t WHERE ${where}`, params };
}
