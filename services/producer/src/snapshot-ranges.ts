// A table cut into key ranges for the parallel snapshot, and the SQL that reads one chunk of
// a range. Ranges are planned from a sample of the key index: any boundaries are correct
// (the ranges are contiguous, (-∞, b1], (b1, b2], …, (bn, +∞)); a good sample only makes them
// even. The plan is kept in the checkpoint, so a restart resumes the same ranges.
import type pg from "pg";
import { checksumSql, textOutputSql } from "@zeroloss/checksum";
import { pgError, qualifiedName, quoteIdent, quoteLiteral, quoteTable, type TableInfo } from "@zeroloss/pg";
import type { KeyValues, SnapshotRange } from "@zeroloss/wire";

/** Sampled keys per planned range: enough that the ranges come out about even. */
const SAMPLE_PER_RANGE = 50;

/** How many ranges a table of `estimatedRows` is cut into: enough for every worker, none much below a chunk. */
export function rangeCount(estimatedRows: number, chunkSize: number, workers: number): number {
  return Math.max(1, Math.min(workers * 4, Math.ceil(estimatedRows / chunkSize)));
}

/** Literals of a key's values, cast to the key columns' types: COPY takes no parameters. */
function keyLiterals(types: readonly string[], key: KeyValues): string {
  return key.map((v, i) => (v === null ? "NULL" : `${quoteLiteral(v)}::${types[i] ?? "text"}`)).join(", ");
}

export class TableRanges {
  readonly name: string;
  /** Where the key columns are in a row, in the key's own order. */
  readonly keyIndexes: readonly number[];
  private readonly keyTypes: readonly string[];
  private readonly keyList: string;

  constructor(readonly info: TableInfo) {
    this.name = qualifiedName(info);
    this.keyIndexes = info.keyColumns.map((k) => info.columns.findIndex((c) => c.name === k));
    this.keyTypes = this.keyIndexes.map((i) => info.columns[i]?.sqlType ?? "text");
    this.keyList = info.keyColumns.map(quoteIdent).join(", ");
  }

  /** `count` contiguous ranges covering every key, their boundaries from a sample of the table. */
  async plan(client: pg.Client, count: number, estimatedRows: number): Promise<SnapshotRange[]> {
    const whole: SnapshotRange = { after: null, to: null, lastKey: null, done: false, rows: 0 };
    if (count <= 1) return [whole];
    const percent = Math.min(100, (100 * count * SAMPLE_PER_RANGE) / Math.max(1, estimatedRows));
    let sample: KeyValues[];
    try {
      const res = await client.query<(string | null)[]>({
        text: `SELECT ${this.keyList} FROM ${quoteTable(this.info)} TABLESAMPLE SYSTEM (${percent}) ORDER BY ${this.keyList}`,
        rowMode: "array",
      });
      sample = res.rows;
    } catch (err) {
      throw pgError(err, `sampling the keys of ${this.name} to cut it into ranges`);
    }
    const bounds: KeyValues[] = [];
    for (let i = 1; i < count; i++) {
      const k = sample[Math.floor((i * sample.length) / count)];
      const prev = bounds[bounds.length - 1];
      if (k !== undefined && (prev === undefined || JSON.stringify(prev) !== JSON.stringify(k))) bounds.push(k);
    }
    if (bounds.length === 0) return [whole];
    return [...bounds, null].map((to, i) => ({ after: i === 0 ? null : (bounds[i - 1] ?? null), to, lastKey: null, done: false, rows: 0 }));
  }

  /**
   * COPY … TO STDOUT of the range's next chunk after `from` (its lower bound or last key read),
   * in key order: per row its canonical checksum (v1, computed by the source over its stored
   * values), then the values in column order.
   */
  chunkCopy(range: SnapshotRange, chunkSize: number): string {
    const cols = this.info.columns.map((c) => quoteIdent(c.name));
    const sum = checksumSql(this.info.columns.map((c) => ({ name: c.name, textSql: textOutputSql(quoteIdent(c.name)) })));
    const from = range.lastKey ?? range.after;
    const where = [
      ...(from === null ? [] : [`ROW(${this.keyList}) > ROW(${keyLiterals(this.keyTypes, from)})`]),
      ...(range.to === null ? [] : [`ROW(${this.keyList}) <= ROW(${keyLiterals(this.keyTypes, range.to)})`]),
    ];
    return (
      `COPY (SELECT ${sum}, ${cols.join(", ")} FROM ${quoteTable(this.info)}` +
      `${where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY ${this.keyList} LIMIT ${chunkSize}) TO STDOUT`
    );
  }
}

/** A table's ranges from its progress: checkpoints without ranges hold one range, the whole table. */
export function rangesOf(p: { readonly done: boolean; readonly lastKey: KeyValues | null; readonly rows: number; readonly ranges?: readonly SnapshotRange[] }): SnapshotRange[] | null {
  if (p.ranges !== undefined) return [...p.ranges];
  if (p.lastKey === null && !p.done) return null; // not begun: planned when it is
  return [{ after: null, to: null, lastKey: p.lastKey, done: p.done, rows: p.rows }];
}
