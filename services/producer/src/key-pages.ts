// A table read in primary-key chunks by keyset pagination, one query per chunk with the
// rows as values: what the live snapshot (live-snapshot.ts) reads each watermark window with.
// The initial snapshot reads ranges with COPY instead (snapshot-ranges.ts).
import { ZerolossError } from "@zeroloss/errors";
import { qualifiedName, quoteIdent, quoteTable, type TableInfo } from "@zeroloss/pg";
import type pg from "pg";

/** A table read in primary-key chunks (keyset pagination): shared by the initial snapshot and the live one. */
export interface KeyPages {
  /** Where the key columns are in a row, in the key's own order (the order of `lastKey`). */
  readonly keyIndexes: readonly number[];
  /** The next chunk after `lastKey` (null: from the start), as text values. */
  read(client: pg.Client, lastKey: readonly (string | null)[] | null): Promise<(string | null)[][]>;
}

export function keyPages(info: TableInfo, chunkSize: number): KeyPages {
  const name = qualifiedName(info);
  const keyIndexes = info.keyColumns.map((k) => info.columns.findIndex((c) => c.name === k));
  const keyTypes = keyIndexes.map((i) => info.columns[i]?.sqlType ?? "text");
  const cols = info.columns.map((c) => quoteIdent(c.name)).join(", ");
  const keyList = info.keyColumns.map(quoteIdent).join(", ");
  const after = `ROW(${keyList}) > ROW(${keyTypes.map((t, i) => `$${i + 1}::${t}`).join(", ")})`;
  const first = `SELECT ${cols} FROM ${quoteTable(info)} ORDER BY ${keyList} LIMIT ${chunkSize}`;
  const next = `SELECT ${cols} FROM ${quoteTable(info)} WHERE ${after} ORDER BY ${keyList} LIMIT ${chunkSize}`;
  return {
    keyIndexes,
    async read(client, lastKey) {
      try {
        const res = await client.query<(string | null)[]>({ text: lastKey === null ? first : next, values: lastKey === null ? [] : [...lastKey], rowMode: "array" });
        return res.rows;
      } catch (err) {
        throw new ZerolossError("SNAPSHOT_READ_FAILED", `reading a snapshot chunk of ${name}: ${(err as Error).message}`, {
          retriable: true,
          cause: err,
          details: { table: name, afterKey: lastKey },
        });
      }
    },
  };
}
