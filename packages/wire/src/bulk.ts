// The rows of a bulk snapshot record (envelope v1, op r with `rows`): many rows of one
// table read in one snapshot chunk, all of whose keys belong in the record's partition.
// Each line of `copy` is one row in COPY text form (copy-text.ts): the row's canonical
// key, its canonical checksum (v1, over the values that follow), then its values in column
// order. The consumer hands the text to the target as it is; parseBulkRows is for tools,
// tests and the rare path that names a quarantined row's columns. docs/envelope.md shows one.
import { rowChecksum } from "@zeroloss/checksum";
import { copyLines, parseCopyLine } from "./copy-text.js";
import type { Envelope } from "./envelope.js";

export interface BulkRows {
  readonly count: number;
  readonly copy: string;
}

/** The fields before a bulk row's values: key, checksum. */
export const BULK_LEADING_FIELDS = 2;

export interface BulkRow {
  readonly key: string;
  readonly checksum: string;
  readonly values: readonly (string | null)[];
}

/** The rows of a bulk record, decoded (values in the envelope's column order). */
export function parseBulkRows(env: Pick<Envelope, "columns" | "rows">): BulkRow[] {
  if (env.rows === undefined) return [];
  return copyLines(env.rows.copy).map((line) => {
    const fields = parseCopyLine(line);
    return { key: fields[0] ?? "", checksum: fields[1] ?? "", values: fields.slice(BULK_LEADING_FIELDS) };
  });
}

/** Each row's checksum as its own values give it. */
export function bulkRowChecksum(env: Pick<Envelope, "columns">, row: BulkRow): string {
  return rowChecksum(
    env.columns.map((c) => c.name),
    row.values,
  );
}

/**
 * The rows a data record holds, as the ledger counts them: a bulk record's `rows.count`,
 * every other record (a change, a single snapshot row, a truncate marker) one.
 */
export function rowsOfRecord(env: { readonly rows?: { readonly count: number } | null | undefined } | null): number {
  return env?.rows?.count ?? 1;
}
