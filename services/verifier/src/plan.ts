// What is compared for one table: the source's columns (by name, in the source's order) and
// key, found again in the target. A table or column the target lacks, or a different key,
// is drift that no content comparison could show; column types that differ are noted, as
// they are where silent conversions come from (the content comparison then shows the rows).
import type pg from "pg";
import { describeTable, query, qualifiedName, quoteTable, readKeyColumns, type TableInfo, type TableName } from "@zeroloss/pg";
import type { SideTable } from "./sql.js";

export interface TablePlan {
  readonly table: string;
  readonly source: SideTable;
  /** Null when the target cannot be compared at all (see problems). */
  readonly target: SideTable | null;
  /** Structural drift: a missing table or column, a different key. */
  readonly problems: readonly string[];
  /** Differences of declared type, e.g. `column "doc": source json, target jsonb`. */
  readonly notes: readonly string[];
  readonly estimatedRows: number | null;
}

/** The target's columns (name → format_type) and the relation's oid, or null when the table is absent. */
async function targetColumns(target: pg.Client, table: TableName): Promise<{ oid: number; types: Map<string, string> } | null> {
  const rows = await query<{ oid: string; name: string; sqltype: string }>(
    target,
    `reading the target's columns of ${qualifiedName(table)}`,
    `SELECT c.oid, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS sqltype
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [table.schema, table.name],
  );
  return rows.length === 0 ? null : { oid: Number(rows[0]!.oid), types: new Map(rows.map((r) => [r.name, r.sqltype])) };
}

export async function planTable(source: pg.Client, target: pg.Client, table: TableName): Promise<TablePlan> {
  const info: TableInfo = await describeTable(source, table);
  const name = qualifiedName(table);
  const columns = info.columns.map((c) => c.name);
  const typeOf = new Map(info.columns.map((c) => [c.name, c.sqlType]));
  const sourceSide: SideTable = { quoted: quoteTable(table), columns, key: info.keyColumns, keyTypes: info.keyColumns.map((k) => typeOf.get(k)!) };
  const base = { table: name, source: sourceSide, estimatedRows: info.estimatedRows };
  if (info.keyColumns.length === 0) {
    return { ...base, target: null, problems: [`${name} has no primary key or replica identity index in the source: rows cannot be matched by key`], notes: [] };
  }
  const found = await targetColumns(target, table);
  if (found === null) return { ...base, target: null, problems: [`table ${name} does not exist in the target`], notes: [] };

  const tcols = found.types;
  const problems = columns.filter((c) => !tcols.has(c)).map((c) => `column "${c}" of ${name} is missing in the target`);
  const notes = columns
    .filter((c) => tcols.has(c) && tcols.get(c) !== typeOf.get(c))
    .map((c) => `column "${c}": source ${typeOf.get(c)!}, target ${tcols.get(c)!}`);
  const tkey = await readKeyColumns(target, found.oid, false, `the target's ${name}`);
  if ([...tkey].sort().join(",") !== [...info.keyColumns].sort().join(",")) {
    problems.push(`the target's primary key of ${name} is (${tkey.join(", ") || "none"}), the source's key is (${info.keyColumns.join(", ")})`);
  } else if (tkey.join(",") !== info.keyColumns.join(",")) {
    // The same key in another column order (the consumer creates it in column order: the
    // envelope flags key columns without their order). Both sides are read in the source's.
    notes.push(`the target's primary key of ${name} lists its columns as (${tkey.join(", ")}), the source's as (${info.keyColumns.join(", ")}): the target is read in the source's order, without the help of its index`);
  }
  if (problems.length > 0) return { ...base, target: null, problems, notes };
  return { ...base, target: { ...sourceSide, keyTypes: info.keyColumns.map((k) => tcols.get(k)!) }, problems: [], notes };
}
