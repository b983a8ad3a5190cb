// A step of bulk snapshot records (packages/wire, BulkRows) applied inside the batch
// transaction: each record's COPY text goes to the staging table as it travelled, without
// decoding a row here; the target then recomputes every row's checksum and canonical key
// (TableSql.validateSums), and a row that does not match is quarantined alone, by its key,
// while the record's other rows are merged. A record the target cannot even load (malformed
// text) is quarantined whole, named by the target's own error, and the batch goes on
// (stageRecords).
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { from as copyFrom } from "pg-copy-streams";
import { parseLsn, pgError, query, type Client } from "@zeroloss/pg";
import { BULK_LEADING_FIELDS, copyField, copyLines, parseCopyLine, type Row } from "@zeroloss/wire";
import type { BatchPlan, BulkRecord, Step } from "./batch.js";
import type { Quarantined, TargetConnection } from "./target-transaction.js";
import { BULK_LSN_SETTING, BULK_RECORD_SETTING } from "./table-sql.js";
import type { TargetTable } from "./target-schema.js";
import { DUPLICATE, QUARANTINED } from "./written-tallies.js";

/**
 * Copies one bulk record into staging (inside a savepoint the caller holds); what is wrong
 * with it, or null. A failure of the connection, not of the record, is thrown: the batch is
 * tried again.
 */
async function copyRecord(db: Client, copySql: string, table: string, r: BulkRecord, offset: string | undefined): Promise<string | null> {
  const lsn = r.env.source.lsn;
  try {
    parseLsn(lsn);
  } catch {
    return `its source.lsn ${JSON.stringify(lsn)} is not an LSN`;
  }
  await query(db, `staging a bulk record of ${table}`, `SELECT set_config('${BULK_RECORD_SETTING}', '${r.index}', true), set_config('${BULK_LSN_SETTING}', '${lsn}', true)`);
  let copied: number;
  try {
    const stream = db.query(copyFrom(copySql));
    await pipeline(Readable.from([Buffer.from(r.env.rows.copy, "utf8")]), stream);
    copied = stream.rowCount;
  } catch (err) {
    const e = pgError(err, `copying the bulk record at offset ${offset} of ${table} into staging`);
    if (e.retriable) throw e;
    return `the target cannot load its rows: ${e.message}`;
  }
  return copied === r.env.rows.count ? null : `rows.count says ${r.env.rows.count} rows, its COPY text holds ${copied}`;
}

/**
 * Stages a step's records: all in one savepoint, and only when one fails, again one by one,
 * each in its own savepoint, to keep the others. (A savepoint per record would overflow the
 * backend's cache of 64 subtransactions in a load, which slows every snapshot taken on the
 * target database.) Returns the records staged and, for each one left out, why.
 */
async function stageRecords(db: Client, copySql: string, table: string, records: readonly BulkRecord[], plan: BatchPlan): Promise<{ staged: BulkRecord[]; unreadable: Map<BulkRecord, string> }> {
  await query(db, `staging the bulk records of ${table}`, "SAVEPOINT zl_bulk_step");
  let failed = false;
  for (const r of records) {
    if ((await copyRecord(db, copySql, table, r, plan.records[r.index]?.offset)) !== null) {
      failed = true;
      break;
    }
  }
  if (!failed) {
    await query(db, "releasing the bulk records' savepoint", "RELEASE SAVEPOINT zl_bulk_step");
    return { staged: [...records], unreadable: new Map() };
  }
  await query(db, "rolling back the bulk records to stage them one by one", "ROLLBACK TO SAVEPOINT zl_bulk_step; RELEASE SAVEPOINT zl_bulk_step");
  const staged: BulkRecord[] = [];
  const unreadable = new Map<BulkRecord, string>();
  for (const r of records) {
    await query(db, `staging a bulk record of ${table}`, "SAVEPOINT zl_bulk");
    const wrong = await copyRecord(db, copySql, table, r, plan.records[r.index]?.offset);
    if (wrong === null) {
      await query(db, "releasing the bulk record's savepoint", "RELEASE SAVEPOINT zl_bulk");
      staged.push(r);
    } else {
      await query(db, "rolling back an unreadable bulk record", "ROLLBACK TO SAVEPOINT zl_bulk; RELEASE SAVEPOINT zl_bulk");
      unreadable.set(r, wrong);
    }
  }
  return { staged, unreadable };
}

/** The line of a bulk record with the row of `key`, and the row it sends (by column name). */
function sentRow(table: TargetTable, r: BulkRecord, key: string): { line: string; row: Row | null } | null {
  for (const line of copyLines(r.env.rows.copy)) {
    const tab = line.indexOf("\t");
    if (line.slice(0, tab) !== copyField(key)) continue;
    try {
      const values = parseCopyLine(line).slice(BULK_LEADING_FIELDS);
      return { line, row: Object.fromEntries(table.columns.map((c, i) => [c.name, values[i] ?? null])) };
    } catch {
      return { line, row: null }; // text the target loaded but this reader cannot split: no column comparison, the checksum still decides
    }
  }
  return null;
}

/** Columns where `sent` (when it has the column) differs from `texts.c<i>`. */
function differing(table: TargetTable, sent: Row, texts: Readonly<Record<string, string | null>>): string[] {
  return table.columns.flatMap((c, i) => (Object.hasOwn(sent, c.name) && (sent[c.name] ?? null) !== texts[`c${i}`] ? [c.name] : []));
}

export async function applyBulk(
  conn: TargetConnection,
  step: Extract<Step, { kind: "bulk" }>,
  truncatedAt: string,
  plan: BatchPlan,
  outcomes: Uint8Array,
  quarantined: Quarantined[],
  /** Whether the record lies below its partition's applied position (read again: a replay or a redelivery). */
  appliedBefore: (index: number) => boolean,
): Promise<void> {
  const db = conn.client;
  const { table, records } = step;
  const sql = conn.sqlFor(table);
  const name = table.quoted;
  const qualified = `${table.schema}.${table.name}`;
  if (conn.staged(table)) await query(db, `emptying the staging table of ${name}`, sql.emptyStaging);
  const { staged, unreadable: left } = await stageRecords(db, sql.copyBulk, name, records, plan);
  for (const [r, unreadable] of left) {
    const offset = plan.records[r.index]?.offset;
    outcomes[r.index] = QUARANTINED;
    quarantined.push({
      index: r.index,
      code: "BULK_ROWS_UNREADABLE",
      reason: `table ${qualified}, bulk snapshot record at offset ${offset}: ${unreadable}`,
      table: qualified,
      expected: null,
      computed: null,
      differing: null,
      basis: null,
    });
  }
  if (staged.length === 0) return;
  // Keys are unique within a record (one snapshot range); two records of the batch may share one (a re-snapshot).
  if (staged.length > 1) await query(db, `electing the last record per key of ${name}`, sql.relastAll);

  const tomb = await query<{ any: "t" | "f" }>(db, `looking for tombstones of ${name}`, sql.hasTombstones, [name]);
  const withTombstones = tomb[0]?.any === "t";
  const flagged = await query<{ n: string; row: string; computed: string | null; mismatch: "t" | "f"; key_sent: string | null; key_given: string | null; key_mismatch: "t" | "f" }>(
    db,
    `validating the checksums and keys of ${name}`,
    sql.validateSums,
  );
  // A key field that is not the row's key would aim the LSN guard and the tombstones at another row.
  const keyBad = flagged.filter((r) => r.key_mismatch === "t");
  for (const r of keyBad) {
    const n = Number(r.n);
    outcomes[n] = QUARANTINED;
    quarantined.push({
      index: n,
      code: "WIRE_KEY_MISMATCH",
      reason: `table ${qualified}, bulk snapshot record at offset ${plan.records[n]?.offset}: a row's key field ${r.key_sent ?? "(none)"} is not the key of its values, ${r.key_given ?? "(none)"}`,
      table: qualified,
      expected: null,
      computed: r.computed,
      differing: null,
      basis: null,
      rows: 1,
      ...(r.key_sent === null ? {} : { key: r.key_sent }),
    });
  }
  const badRows = flagged.filter((r) => r.key_mismatch === "f");
  if (keyBad.length > 0) {
    await query(db, `marking quarantined rows of ${name}`, sql.markBadRows, [keyBad.map((r) => r.row)]);
    await query(db, `re-electing the last good record per key of ${name}`, sql.relast, [[...new Set(keyBad.map((r) => Number(r.n)))]]);
  }
  if (badRows.length > 0) {
    const ids = badRows.map((r) => r.row);
    const computedOf = new Map(badRows.map((r) => [r.row, r.computed]));
    const stagedText = await query<Record<string, string | null>>(db, `reading staged values of ${name}`, sql.stagedRowText, [ids]);
    const storedText = new Map((await query<Record<string, string | null>>(db, `reading stored rows of ${name}`, sql.storedRowText, [ids])).map((s) => [s["row"], s]));
    const byIndex = new Map(staged.map((r) => [r.index, r]));
    for (const s of stagedText) {
      const n = Number(s["n"]);
      const key = s["key"] ?? "";
      const rec = byIndex.get(n);
      const found = rec === undefined ? null : sentRow(table, rec, key);
      const sent = found?.row ?? null;
      let columns: string[] = sent === null ? [] : differing(table, sent, s);
      let basis = "the target stores the sent value differently";
      const stored = storedText.get(s["row"] ?? "");
      if (columns.length === 0 && sent !== null && stored !== undefined) {
        columns = differing(table, sent, stored);
        basis = `against the target's current row (LSN ${stored["lsn"] ?? "unknown"})`;
      } else if (columns.length === 0) {
        basis = "no other copy of the row to compare with";
      }
      const offset = plan.records[n]?.offset;
      outcomes[n] = QUARANTINED;
      quarantined.push({
        index: n,
        code: "CHECKSUM_MISMATCH",
        reason:
          `checksum mismatch: table ${qualified}, snapshot row with key ${key} in the bulk record at offset ${offset} (LSN ${rec?.env.source.lsn ?? "?"}): ` +
          (columns.length > 0 ? `column(s) ${columns.join(", ")} differ (${basis})` : `the values do not match the checksum the producer computed (${basis})`),
        table: qualified,
        expected: s["sum"] ?? null,
        computed: computedOf.get(s["row"] ?? "") ?? null,
        differing: columns,
        basis,
        key,
        rows: 1,
        ...(found === null ? {} : { payload: found.line }),
      });
    }
    await query(db, `marking quarantined rows of ${name}`, sql.markBadRows, [ids]);
    await query(db, `re-electing the last good record per key of ${name}`, sql.relast, [[...new Set(stagedText.map((s) => Number(s["n"])))]]);
  }
  // A record read again is a duplicate; its rows are merged again all the same (the LSN guard
  // keeps newer changes, and a damaged row is repaired). Looking up every row's stored LSN
  // to tell them apart cost a third of the target's time in a load (bench:snapshot).
  for (const r of staged) if (outcomes[r.index] !== QUARANTINED && appliedBefore(r.index)) outcomes[r.index] = DUPLICATE;
  await query(db, `merging rows into ${name}`, sql.upsert, [truncatedAt, name, withTombstones]);
}
