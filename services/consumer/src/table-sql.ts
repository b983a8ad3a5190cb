// The SQL the consumer runs for one target table, generated once per table. Identifiers are
// always quoted; values always travel as parameters or through COPY.
//
// A batch's rows of one table are copied into a temporary staging table with the same
// column types, plus bookkeeping columns:
//   zl$n       the record's index in the batch (offset order)
//   zl$key     the canonical key (the Kafka key), for tombstones
//   zl$lsn     the change's LSN
//   zl$op      c u d r
//   zl$sum     the checksum the producer computed
//   zl$unch    1-based column numbers PostgreSQL did not send (unchanged TOAST): 'u' in the checksum
//   zl$absent  1-based column numbers not in a delete's `before`: not in the checksum at all
//   zl$keep    columns whose stored value must be kept (unchanged, and no earlier record of
//              the same row in this batch carried the value)
//   zl$last    the last record of its key in this batch: only that one is merged
//   zl$bad     set for records that failed the checksum: never merged
//   zl$row     a number per staged row, unique in the batch: names one row of a bulk record
//
// A bulk snapshot record's rows are copied as they travel (key, checksum, values); the
// bookkeeping columns they lack take their defaults: the record's index and LSN from
// transaction-local settings the consumer sets before each record's COPY, op r, last.
import { TOMBSTONES, TRUNCATIONS } from "@zeroloss/bookkeeping";
import { checksumSql, textOutputSql, type SqlChecksumColumn } from "@zeroloss/checksum";
import { quoteIdent, quoteLiteral } from "@zeroloss/pg";
import { LSN_COLUMN, type TargetTable } from "./target-schema.js";

export const STAGING_META = ["zl$n", "zl$key", "zl$lsn", "zl$op", "zl$sum", "zl$unch", "zl$absent", "zl$keep", "zl$last"] as const;

/** The settings a bulk record's rows take their index (zl$n) and LSN (zl$lsn) from. */
export const BULK_RECORD_SETTING = "zeroloss.bulk_record";
export const BULK_LSN_SETTING = "zeroloss.bulk_lsn";

const q = quoteIdent;
const LSN = q(LSN_COLUMN);
const m = (name: string) => `s.${q(name)}`;

export interface TableSql {
  /** $1 table name: whether zeroloss.tombstones holds any row of it. */
  readonly hasTombstones: string;
  readonly stagingName: string;
  readonly createStaging: string;
  /**
   * Empties the staging table within a transaction that staged into it before (a batch with
   * two row steps of one table). Otherwise it is empty already: created ON COMMIT DELETE ROWS,
   * PostgreSQL truncates it in place at each commit, which costs far less than a TRUNCATE
   * statement per batch (a new file and catalog rows each time).
   */
  readonly emptyStaging: string;
  readonly copy: string;
  /** COPY of a bulk record's rows: key, checksum, values (BULK_LEADING_FIELDS in packages/wire). */
  readonly copyBulk: string;
  /** Sets zl$last only on each key's last record, for staged bulk rows whose keys may repeat. */
  readonly relastAll: string;
  /** $1 bigint[]: marks rows quarantined. */
  readonly markBadRows: string;
  /** $1 bigint[]: (row, n, key, sum) and the staged values as the target prints them, per column c0..cN. */
  readonly stagedRowText: string;
  /** $1 bigint[]: the target's current row for each staged row's key: (row, lsn, c0..cN). */
  readonly storedRowText: string;
  /**
   * $1 truncation LSN, $2 table name, $3 whether it has tombstones. The staged rows whose recomputed checksum differs or
   * that the target already holds at or past their LSN: (n, row, computed, mismatch, dup).
   */
  readonly validate: string;
  /**
   * For bulk snapshot records (their duplicates are told by the applied position, not by a
   * lookup per row): the staged rows whose recomputed checksum differs, or whose key field
   * is not the canonical key of their key columns' values. (n, row, computed, mismatch,
   * key_sent, key_given, key_mismatch).
   */
  readonly validateSums: string;
  /** $1 int[]: the rows' values as the target prints them, per column c0..cN. */
  readonly stagedText: string;
  /** $1 int[]: the target's current row for each staged row's key: (n, lsn, c0..cN). */
  readonly storedText: string;
  /** $1 truncation LSN, $2 table name, $3 whether it has tombstones: updates with kept columns whose row the target does not hold. */
  readonly baseMissing: string;
  /** $1 truncation LSN, $2 table name, $3 whether it has tombstones. */
  readonly upsert: string;
  /** $1 truncation LSN. */
  readonly updateKeeping: string;
  /** $1 truncation LSN, $2 table name. */
  readonly deleteRows: string;
  /** $1 int[] of bad rows: recompute zl$last among the good records of their keys. */
  readonly relast: string;
  /** $1 int[]: marks records quarantined. */
  readonly markBad: string;
}

export function tableSql(table: TargetTable, stagingName: string): TableSql {
  const cols = table.columns;
  const stage = q(stagingName);
  const target = table.quoted;
  // Staging columns carry the envelope's names; target columns their own (`column`: another
  // name only for a record older than a RENAME COLUMN the target already went through).
  const colList = cols.map((c) => q(c.name)).join(", ");
  const targetList = cols.map((c) => q(c.column)).join(", ");
  const keyMatch = table.keyIndexes.map((i) => `t.${q(cols[i]?.column as string)} = s.${q(cols[i]?.name as string)}`).join(" AND ");
  const sumColumns = (full: boolean): SqlChecksumColumn[] =>
    cols.map((c, i) => ({
      name: c.name,
      textSql: `x.c${i}`,
      ...(full ? { unchangedSql: `${i + 1} = ANY(s."zl$unch")`, absentSql: `${i + 1} = ANY(s."zl$absent")` } : {}),
    }));
  const computed = `CASE WHEN s."zl$unch" IS NULL AND s."zl$absent" IS NULL THEN ${checksumSql(sumColumns(false))} ELSE ${checksumSql(sumColumns(true))} END`;
  const texts = (alias: "s" | "t") => cols.map((c, i) => `${textOutputSql(`${alias}.${q(alias === "t" ? c.column : c.name)}`)} AS c${i}`).join(", ");
  // Each value's text output once per row: the checksum expression names a column's text
  // three times, and PostgreSQL would evaluate an inline expression at each (OFFSET 0 keeps
  // the subquery from being pulled up). Measured on the benchmark row: 3.8 against 5.1 µs a row.
  const textsOnce = `CROSS JOIN LATERAL (SELECT ${texts("s")} OFFSET 0) x`;
  // The canonical key (packages/wire, RowJson): the key columns in ordinal order as a JSON
  // object of their text output. PostgreSQL's to_json() escapes text as JSON.stringify does.
  const canonicalKey =
    `'{' || ` +
    [...table.keyIndexes]
      .sort((x, y) => x - y)
      .map((i) => `${quoteLiteral(`${JSON.stringify(cols[i]?.name ?? "")}:`)} || to_json(x.c${i})::text`)
      .join(` || ',' || `) +
    ` || '}'`;
  // Scalar subqueries, so each staged row is one index lookup: a join let the planner hash
  // the whole target table for every batch (its staging table has no statistics).
  // $3 (the table has tombstones) is known when the statement is planned: without any, the
  // tombstone lookups are planned away (most loads and many streams never delete).
  const heldAt = `GREATEST((SELECT t.${LSN} FROM ${target} t WHERE ${keyMatch}), CASE WHEN $3::boolean THEN (SELECT z.lsn FROM ${TOMBSTONES.sql} z WHERE z.table_name = $2 AND z.key = s."zl$key") END, $1::pg_lsn)`;
  const newerTombstone = `($3::boolean AND EXISTS (SELECT 1 FROM ${TOMBSTONES.sql} z WHERE z.table_name = $2 AND z.key = s."zl$key" AND z.lsn > s."zl$lsn"))`;
  const merged = `s."zl$last" AND NOT s."zl$bad" AND s."zl$lsn" > $1::pg_lsn`;
  const nonKey = cols.map((c, i) => ({ c, i })).filter(({ i }) => !table.keyIndexes.includes(i));
  const set = [...nonKey.map(({ c }) => `${q(c.column)} = excluded.${q(c.column)}`), `${LSN} = excluded.${LSN}`].join(", ");
  const setKeeping = [
    ...nonKey.map(({ c, i }) => `${q(c.column)} = CASE WHEN ${i + 1} = ANY(s."zl$keep") THEN t.${q(c.column)} ELSE s.${q(c.name)} END`),
    `${LSN} = s."zl$lsn"`,
  ].join(", ");
  return {
    stagingName,
    createStaging:
      `CREATE TEMPORARY TABLE IF NOT EXISTS ${stage} ("zl$n" integer NOT NULL DEFAULT current_setting('${BULK_RECORD_SETTING}')::integer, ` +
      `"zl$key" text COLLATE "C", "zl$lsn" pg_lsn NOT NULL DEFAULT current_setting('${BULK_LSN_SETTING}')::pg_lsn, ` +
      `"zl$op" "char" NOT NULL DEFAULT 'r', "zl$sum" text, "zl$unch" integer[], "zl$absent" integer[], "zl$keep" integer[], "zl$last" boolean NOT NULL DEFAULT true, ` +
      `"zl$bad" boolean NOT NULL DEFAULT false, "zl$row" bigint GENERATED ALWAYS AS IDENTITY, ${cols.map((c) => `${q(c.name)} ${c.type}`).join(", ")}) ON COMMIT DELETE ROWS`,
    emptyStaging: `DELETE FROM ${stage}`,
    hasTombstones: `SELECT EXISTS (SELECT 1 FROM ${TOMBSTONES.sql} WHERE table_name = $1) AS any`,
    copy: `COPY ${stage} (${[...STAGING_META.map((n) => q(n)), colList].join(", ")}) FROM STDIN`,
    copyBulk: `COPY ${stage} ("zl$key", "zl$sum", ${colList}) FROM STDIN`,
    relastAll:
      `UPDATE ${stage} s SET "zl$last" = false FROM (SELECT "zl$key" AS key, max("zl$n") AS n FROM ${stage} GROUP BY "zl$key" HAVING count(*) > 1) g ` +
      `WHERE s."zl$key" = g.key AND s."zl$n" <> g.n`,
    markBadRows: `UPDATE ${stage} SET "zl$bad" = true WHERE "zl$row" = ANY($1::bigint[])`,
    stagedRowText: `SELECT s."zl$row" AS row, s."zl$n" AS n, s."zl$key" AS key, s."zl$sum" AS sum, ${texts("s")} FROM ${stage} s WHERE s."zl$row" = ANY($1::bigint[])`,
    storedRowText: `SELECT s."zl$row" AS row, t.${LSN}::text AS lsn, ${texts("t")} FROM ${stage} s JOIN ${target} t ON ${keyMatch} WHERE s."zl$row" = ANY($1::bigint[])`,
    validate:
      `SELECT y.n, y.row, y.computed, y.computed IS DISTINCT FROM y.sum AS mismatch, y.dup FROM (SELECT s."zl$n" AS n, s."zl$row" AS row, s."zl$sum" AS sum, ${computed} AS computed, ` +
      `s."zl$lsn" <= ${heldAt} AS dup FROM ${stage} s ${textsOnce}) y WHERE y.computed IS DISTINCT FROM y.sum OR y.dup`,
    validateSums:
      `SELECT y.n, y.row, y.computed, y.computed IS DISTINCT FROM y.sum AS mismatch, y.key_sent, y.key_given, y.key_sent IS DISTINCT FROM y.key_given AS key_mismatch ` +
      `FROM (SELECT s."zl$n" AS n, s."zl$row" AS row, s."zl$sum" AS sum, ${computed} AS computed, s."zl$key" AS key_sent, ${canonicalKey} AS key_given ` +
      `FROM ${stage} s ${textsOnce}) y WHERE y.computed IS DISTINCT FROM y.sum OR y.key_sent IS DISTINCT FROM y.key_given`,
    stagedText: `SELECT s."zl$n" AS n, ${texts("s")} FROM ${stage} s WHERE s."zl$n" = ANY($1::int[])`,
    storedText: `SELECT s."zl$n" AS n, t.${LSN}::text AS lsn, ${texts("t")} FROM ${stage} s JOIN ${target} t ON ${keyMatch} WHERE s."zl$n" = ANY($1::int[])`,
    baseMissing:
      `SELECT s."zl$n" AS n FROM ${stage} s WHERE ${merged} AND s."zl$op" <> 'd' AND s."zl$keep" IS NOT NULL ` +
      `AND NOT EXISTS (SELECT 1 FROM ${target} t WHERE ${keyMatch}) AND NOT ${newerTombstone}`,
    upsert:
      `INSERT INTO ${target} AS t (${targetList}, ${LSN}) SELECT ${cols.map((c) => m(c.name)).join(", ")}, s."zl$lsn" FROM ${stage} s ` +
      `WHERE ${merged} AND s."zl$op" <> 'd' AND s."zl$keep" IS NULL AND NOT ${newerTombstone} ` +
      `ON CONFLICT (${table.keyIndexes.map((i) => q(cols[i]?.column as string)).join(", ")}) DO UPDATE SET ${set} ` +
      `WHERE t.${LSN} IS NULL OR t.${LSN} <= excluded.${LSN}`,
    updateKeeping:
      `UPDATE ${target} t SET ${setKeeping} FROM ${stage} s ` +
      `WHERE ${merged} AND s."zl$op" <> 'd' AND s."zl$keep" IS NOT NULL AND ${keyMatch} AND (t.${LSN} IS NULL OR t.${LSN} <= s."zl$lsn")`,
    deleteRows:
      `WITH d AS (SELECT s.* FROM ${stage} s WHERE ${merged} AND s."zl$op" = 'd'), ` +
      `gone AS (DELETE FROM ${target} t USING d s WHERE ${keyMatch} AND (t.${LSN} IS NULL OR t.${LSN} <= s."zl$lsn")) ` +
      `INSERT INTO ${TOMBSTONES.sql} (table_name, key, lsn) SELECT $2, d."zl$key", d."zl$lsn" FROM d ` +
      `ON CONFLICT (table_name, key) DO UPDATE SET lsn = excluded.lsn WHERE ${TOMBSTONES.sql}.lsn < excluded.lsn`,
    relast:
      `UPDATE ${stage} s SET "zl$last" = COALESCE(s."zl$n" = g.n, false) FROM (SELECT "zl$key" AS key, max("zl$n") FILTER (WHERE NOT "zl$bad") AS n FROM ${stage} ` +
      `WHERE "zl$key" IN (SELECT "zl$key" FROM ${stage} WHERE "zl$n" = ANY($1::int[])) GROUP BY "zl$key") g WHERE s."zl$key" = g.key`,
    markBad: `UPDATE ${stage} SET "zl$bad" = true WHERE "zl$n" = ANY($1::int[])`,
  };
}

/**
 * A truncate at LSN L: every row last written below L goes (rows another partition already
 * wrote past L stay), deletes below L need no tombstone any more, and L is kept so that an
 * older change arriving later, from a partition read behind, is recognised as superseded.
 * Statements take ($1 LSN), ($1 LSN, $2 table name), ($1 LSN, $2 table name).
 */
export function truncateSql(table: TargetTable): readonly [string, string, string] {
  return [
    `DELETE FROM ${table.quoted} WHERE ${LSN} IS NULL OR ${LSN} < $1::pg_lsn`,
    `INSERT INTO ${TRUNCATIONS.sql} (table_name, lsn) VALUES ($2, $1::pg_lsn) ON CONFLICT (table_name) DO UPDATE SET lsn = excluded.lsn, truncated_at = now() WHERE ${TRUNCATIONS.sql}.lsn < excluded.lsn`,
    `DELETE FROM ${TOMBSTONES.sql} WHERE table_name = $2 AND lsn < $1::pg_lsn`,
  ];
}
