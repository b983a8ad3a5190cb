// A step of single rows (not bulk records) applied inside the batch transaction: the rows are
// copied into the staging table, the target recomputes each row's checksum from the values it
// stored (TableSql.validateSums), a row that does not match is quarantined with the columns
// that differ, and the rest are merged guarded by LSN.
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { from as copyFrom } from "pg-copy-streams";
import { pgError, query, type Client } from "@zeroloss/pg";
import { copyField, copyIntArray, type Envelope } from "@zeroloss/wire";
import type { BatchPlan, StagedRow, Step } from "./batch.js";
import type { TableSql } from "./table-sql.js";
import type { Quarantined, TargetConnection } from "./target-transaction.js";
import type { TargetTable } from "./target-schema.js";
import { DUPLICATE, QUARANTINED } from "./written-tallies.js";

/** The COPY text of staged rows: the bookkeeping columns (STAGING_META), then the values. */
export function copyText(rows: readonly StagedRow[]): string {
  let out = "";
  for (const r of rows) {
    const e = r.env;
    out += `${r.index}\t${copyField(r.key)}\t${e.source.lsn}\t${e.op}\t${copyField(e.checksum)}\t${copyIntArray(r.unchanged)}\t${copyIntArray(r.absent)}\t${copyIntArray(r.keep?.length ? r.keep : null)}\t${r.last ? "t" : "f"}`;
    for (const v of r.values) out += `\t${copyField(v)}`;
    out += "\n";
  }
  return out;
}

async function copyRows(db: Client, sql: TableSql, rows: readonly StagedRow[], table: string): Promise<void> {
  try {
    const stream = db.query(copyFrom(sql.copy));
    await pipeline(Readable.from([Buffer.from(copyText(rows), "utf8")]), stream);
  } catch (err) {
    throw pgError(err, `copying ${rows.length} rows of ${table} into staging`);
  }
}

export async function applyRows(
  conn: TargetConnection,
  step: Extract<Step, { kind: "rows" }>,
  truncatedAt: string,
  plan: BatchPlan,
  outcomes: Uint8Array,
  quarantined: Quarantined[],
): Promise<void> {
  const db = conn.client;
  const { table, rows } = step;
  const sql = conn.sqlFor(table);
  const name = table.quoted;
  if (conn.staged(table)) await query(db, `emptying the staging table of ${name}`, sql.emptyStaging);
  await copyRows(db, sql, rows, name);

  const byIndex = new Map(rows.map((r) => [r.index, r]));
  const bad = new Map<number, Quarantined>();
  // Target connections return every value as PostgreSQL's text output: booleans are "t" and "f".
  const tomb = await query<{ any: "t" | "f" }>(db, `looking for tombstones of ${name}`, sql.hasTombstones, [name]);
  const withTombstones = tomb[0]?.any === "t";
  const checked = await query<{ n: string; computed: string | null; mismatch: "t" | "f"; dup: "t" | "f" }>(db, `validating the checksums of ${name}`, sql.validate, [truncatedAt, name, withTombstones]);
  const mismatches = checked.filter((r) => r.mismatch === "t");
  if (mismatches.length > 0) {
    const ns = mismatches.map((r) => Number(r.n));
    const diffs = await differingColumns(db, sql, table, ns, byIndex);
    for (const r of mismatches) {
      const n = Number(r.n);
      const row = byIndex.get(n);
      const d = diffs.get(n) ?? { columns: [], basis: "no other copy of the row to compare with" };
      const offset = plan.records[n]?.offset;
      bad.set(n, {
        index: n,
        code: "CHECKSUM_MISMATCH",
        reason:
          `checksum mismatch: table ${table.schema}.${table.name}, ${row?.env.op ?? "?"} at offset ${offset} (LSN ${row?.env.source.lsn ?? "?"}): ` +
          (d.columns.length > 0 ? `column(s) ${d.columns.join(", ")} differ (${d.basis})` : `the values do not match the checksum the producer computed (${d.basis})`),
        table: `${table.schema}.${table.name}`,
        expected: row?.env.checksum ?? null,
        computed: r.computed,
        differing: d.columns,
        basis: d.basis,
      });
    }
    // A later record whose unchanged-TOAST values were filled from a bad one is bad too.
    for (const r of rows) {
      if (r.filledFrom !== null && bad.has(r.filledFrom) && !bad.has(r.index)) {
        bad.set(r.index, {
          index: r.index,
          code: "TOAST_SOURCE_QUARANTINED",
          reason: `table ${table.schema}.${table.name}, offset ${plan.records[r.index]?.offset}: its unchanged TOAST values came from the quarantined record at offset ${plan.records[r.filledFrom]?.offset}`,
          table: `${table.schema}.${table.name}`,
          expected: r.env.checksum,
          computed: null,
          differing: null,
          basis: null,
        });
      }
    }
    await markBad(db, sql, name, [...bad.keys()]);
  }
  if (rows.some((r) => r.keep !== null && r.last && !bad.has(r.index))) {
    const missing = await query<{ n: string }>(db, `checking kept TOAST values of ${name}`, sql.baseMissing, [truncatedAt, name, withTombstones]);
    const ns: number[] = [];
    for (const m of missing) {
      const n = Number(m.n);
      const row = byIndex.get(n);
      ns.push(n);
      bad.set(n, {
        index: n,
        code: "TOAST_BASE_MISSING",
        reason:
          `table ${table.schema}.${table.name}, update at offset ${plan.records[n]?.offset} (LSN ${row?.env.source.lsn ?? "?"}) leaves column(s) ` +
          `${(row?.keep ?? []).map((i) => table.columns[i - 1]?.name).join(", ")} unchanged (TOAST), but the target holds no row with key ${row?.key ?? "?"} to keep them from`,
        table: `${table.schema}.${table.name}`,
        expected: row?.env.checksum ?? null,
        computed: null,
        differing: null,
        basis: null,
      });
    }
    if (ns.length > 0) await markBad(db, sql, name, ns);
  }
  for (const q of bad.values()) {
    outcomes[q.index] = QUARANTINED;
    quarantined.push(q);
  }
  for (const r of checked) {
    const n = Number(r.n);
    if (r.dup === "t" && !bad.has(n)) outcomes[n] = DUPLICATE;
  }

  const good = rows.filter((r) => r.last && !bad.has(r.index));
  if (good.some((r) => r.env.op !== "d" && r.keep === null)) await query(db, `merging rows into ${name}`, sql.upsert, [truncatedAt, name, withTombstones]);
  if (good.some((r) => r.env.op !== "d" && r.keep !== null)) await query(db, `merging rows with unchanged TOAST values into ${name}`, sql.updateKeeping, [truncatedAt]);
  if (good.some((r) => r.env.op === "d")) await query(db, `deleting rows from ${name}`, sql.deleteRows, [truncatedAt, name]);
}

async function markBad(db: Client, sql: TableSql, name: string, ns: readonly number[]): Promise<void> {
  await query(db, `marking quarantined rows of ${name}`, sql.markBad, [ns]);
  await query(db, `re-electing the last good record per key of ${name}`, sql.relast, [ns]);
}

/**
 * Names the columns of mismatching rows that differ, and against what: first the target's
 * rendering of the staged values against the envelope's text (a value the target could not
 * store as sent); failing that, the row the target holds for the key (the same change,
 * applied earlier, when its LSN is the record's). A checksum alone cannot say which column
 * changed when there is no other copy to compare with.
 */
async function differingColumns(
  db: Client,
  sql: TableSql,
  table: TargetTable,
  ns: readonly number[],
  byIndex: ReadonlyMap<number, StagedRow>,
): Promise<Map<number, { columns: string[]; basis: string }>> {
  const out = new Map<number, { columns: string[]; basis: string }>();
  const staged = await query<Record<string, string | null>>(db, `reading staged values of ${table.quoted}`, sql.stagedText, [ns]);
  for (const s of staged) {
    const n = Number(s["n"]);
    const env = byIndex.get(n)?.env;
    if (env === undefined) continue;
    const cols = differsFrom(table, env, s);
    if (cols.length > 0) out.set(n, { columns: cols, basis: "the target stores the sent value differently" });
  }
  const stored = await query<Record<string, string | null>>(db, `reading stored rows of ${table.quoted}`, sql.storedText, [ns.filter((n) => !out.has(n))]);
  for (const s of stored) {
    const n = Number(s["n"]);
    const env = byIndex.get(n)?.env;
    if (env === undefined) continue;
    const cols = differsFrom(table, env, s);
    const lsn = s["lsn"];
    out.set(n, {
      columns: cols,
      basis: lsn === env.source.lsn ? `against the same change as the target applied it (LSN ${lsn})` : `against the target's current row (LSN ${lsn ?? "unknown"})`,
    });
  }
  return out;
}

/** Columns whose sent text (when sent) differs from `texts.c<i>`, the target's text of column i. */
function differsFrom(table: TargetTable, env: Envelope, texts: Readonly<Record<string, string | null>>): string[] {
  const row = env.op === "d" ? env.before : env.after;
  if (row === null) return [];
  return table.columns.flatMap((c, i) => (Object.hasOwn(row, c.name) && (row[c.name] ?? null) !== texts[`c${i}`] ? [c.name] : []));
}
