// The one way zeroloss runs a transaction on a client: BEGIN, the caller's work, COMMIT, and
// on any failure a ROLLBACK whose own failure is not allowed to hide the error that caused it.
import type pg from "pg";
import { query } from "./connect.js";

export interface TransactionOptions {
  /** The BEGIN statement: `BEGIN ISOLATION LEVEL REPEATABLE READ`, for one. */
  readonly begin?: string;
  /**
   * Taken first with pg_advisory_xact_lock: serialises the transactions of several
   * instances that share this key (DDL of two services starting at once).
   */
  readonly advisoryLock?: number;
}

/**
 * Runs `work` in a transaction named `what` (the name goes into every error: "beginning
 * the ledger DDL", "committing the ledger DDL"). A failed ROLLBACK is ignored: it fails
 * only when the connection is gone, and PostgreSQL rolls back a lost session by itself;
 * the error thrown is the one that made the transaction fail.
 */
export async function inTransaction<T>(client: pg.Client, what: string, work: () => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  await query(client, `beginning ${what}`, options.begin ?? "BEGIN");
  try {
    if (options.advisoryLock !== undefined) await query(client, `locking ${what}`, "SELECT pg_advisory_xact_lock($1)", [options.advisoryLock]);
    const out = await work();
    await query(client, `committing ${what}`, "COMMIT");
    return out;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}
