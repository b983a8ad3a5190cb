// A data record's source block and rows read leniently, without validating the envelope:
// what the counter counts every record by, and the consumer the rows of a record it cannot
// decode, so the two count a damaged record alike (the ledger compares their counts).
/** The source block of a JSON envelope and the rows its record holds, read without trusting the rest (the counter counts what the consumer validates). */
export interface SourceBlock {
  db: string;
  schema: string;
  table: string;
  commitLsn: string;
  commitTime: string;
  xid: number | null;
  /** rowsOfRecord, as far as the value says: rows.count when it is a non-negative integer, else 1. */
  rows: number;
}

/**
 * A JSON value's source block, leniently, or why there is none. The counter counts every
 * data record by it; the consumer counts by it the rows of a record it cannot decode as an
 * envelope, so both count such a record alike.
 */
export function lenientSource(value: Buffer): SourceBlock | string {
  let env: unknown;
  try {
    env = JSON.parse(value.toString("utf8"));
  } catch {
    return "not JSON";
  }
  const s = (env as { source?: Partial<SourceBlock> } | null)?.source;
  if (s === undefined || s === null || typeof s !== "object") return "no source block";
  const { db, schema, table, commitLsn, commitTime, xid } = s;
  if (typeof db !== "string" || typeof schema !== "string" || typeof table !== "string" || typeof commitLsn !== "string" || typeof commitTime !== "string") {
    return "a source block without db, schema, table, commitLsn or commitTime";
  }
  const count = (env as { rows?: { count?: unknown } | null }).rows?.count;
  const rows = typeof count === "number" && Number.isInteger(count) && count >= 0 ? count : 1;
  return { db, schema, table, commitLsn, commitTime, xid: typeof xid === "number" ? xid : null, rows };
}
