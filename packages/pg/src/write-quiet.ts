// When the source's writes have stopped, for the fence of `zeroloss cutover`: in `wait` mode
// the operator stops the writers and this is all zeroloss does; in `read-only` mode it
// follows fenceRoles (fence-roles.ts), whose sessions may still be finishing. This file owns
// the test "writes have stopped" and the table counters it watches, which the cutover reads
// again later: a counter that moved after the fence means a write the fence LSN misses.
//
// Two signs, both of which must hold for `quietMs` without a break:
//   - no session in the database holds a transaction that has written (an assigned xid),
//     other than the caller and zeroloss's own sessions (by application_name prefix: the
//     producer writes its watermarks), and no prepared transaction of the database waits
//     for its COMMIT PREPARED;
//   - the write counters of the watched tables (pg_stat_user_tables n_tup_ins + n_tup_upd +
//     n_tup_del, summed over a partitioned table's partitions) stand still, which catches
//     short transactions that begin and commit between two polls.
// The quiet period is needed because the counters lag: from PostgreSQL 15 a backend flushes
// its table statistics to shared memory asynchronously when it goes idle, at once if its
// last flush is over a second old, and otherwise after PGSTAT_IDLE_INTERVAL, 10 s (longer
// when the stats lock is contended, at most 60 s). So the last writes of a busy session that
// has just stopped (one that flushed within the second before) show only about 10 s later:
// the default quiet period is longer than that, so that the counters returned with the fence
// hold them and a later comparison does not mistake them for writes after the fence. A
// session that ends (terminated by fenceRoles, or its application stopped) flushes at once.
// Before 15 an idle backend's last report may wait for its next transaction: the counters
// are weaker there, and the xid sign carries the wait.
// The fence LSN is pg_current_wal_lsn() read after the quiet period: every write committed
// before it is below it.
import { ZerolossError } from "@zeroloss/errors";
import type pg from "pg";
import { pgBool } from "./booleans.js";
import { qualifiedName, type TableName } from "./catalog.js";
import { query } from "./connect.js";

/** A session (or a prepared transaction) holding a transaction that has written. */
export interface WriterSession {
  /** null for a prepared transaction, which no session holds. */
  readonly pid: number | null;
  /** The role; a prepared transaction's owner. */
  readonly usename: string | null;
  readonly applicationName: string;
  /** The client's address; null for a Unix socket or a prepared transaction. */
  readonly clientAddr: string | null;
  /** When the transaction began (a prepared transaction: when it was prepared), as PostgreSQL prints it. */
  readonly xactStart: string | null;
  readonly xid: string;
  /** A prepared transaction's global id (PREPARE TRANSACTION 'gid'); null for a session. */
  readonly preparedGid: string | null;
}

export interface WriteQuietProgress {
  /** How long both signs have held; 0 while a writer is seen or a counter moves. */
  readonly quietForMs: number;
  readonly writers: readonly WriterSession[];
  /** `schema.table` of the watched tables whose counters moved since the poll before. */
  readonly movedTables: readonly string[];
}

export interface WaitForWritesOptions {
  /** The tables whose write counters must stand still: the replicated tables. */
  readonly tables: readonly TableName[];
  /** Give up after this long with FENCE_WRITES_CONTINUE, naming the writers. */
  readonly timeoutMs: number;
  /** How long both signs must hold without a break; default 12000, past PostgreSQL's 10 s stats delay (above). */
  readonly quietMs?: number;
  /** Between polls; default 500. */
  readonly intervalMs?: number;
  /** Sessions whose application_name starts with one of these are zeroloss's own and may write; default ["zeroloss"]. */
  readonly ignoreApplicationPrefixes?: readonly string[];
  /** Called after every poll (the CLI shows it). */
  readonly onProgress?: (p: WriteQuietProgress) => void;
  /** Checked before every poll; true ends the wait with FENCE_WAIT_STOPPED. */
  readonly stopped?: () => boolean;
}

export interface WritesStopped {
  /** The fence LSN: pg_current_wal_lsn() read after the quiet period, as PostgreSQL prints it. */
  readonly lsn: string;
  /** When it was read. */
  readonly at: Date;
  /** The watched tables' write counters at the fence, by `schema.table`, as text (bigint). */
  readonly tableWrites: Record<string, string>;
}

const DEFAULT_QUIET_MS = 12_000;
const DEFAULT_INTERVAL_MS = 500;

/**
 * Each table's write counter: n_tup_ins + n_tup_upd + n_tup_del from pg_stat_user_tables,
 * summed over its partitions when it is partitioned, as text, keyed by `schema.table`.
 * Counters only grow (until pg_stat_reset), and count rolled-back rows too: compare them for
 * equality, never read them as row counts.
 */
export async function readTableWrites(client: pg.Client, tables: readonly TableName[]): Promise<Record<string, string>> {
  if (tables.length === 0) return {};
  // pg_partition_tree gives a partitioned table's tree (itself included) and nothing for a
  // table that is neither partitioned nor a partition: hence the table itself besides.
  // Statistics read in a transaction are cached until it ends (stats_fetch_consistency):
  // start from fresh ones in case the caller is inside one.
  await query(client, "clearing the statistics snapshot", "SELECT pg_stat_clear_snapshot()");
  const rows = await query<{ schema: string; name: string; found: unknown; writes: string }>(
    client,
    "reading the tables' write counters",
    `SELECT t.schema, t.name, c.oid IS NOT NULL AS found,
            (SELECT coalesce(sum(s.n_tup_ins + s.n_tup_upd + s.n_tup_del), 0)::text
               FROM (SELECT c.oid AS relid UNION SELECT relid FROM pg_partition_tree(c.oid)) AS p
               JOIN pg_stat_user_tables s ON s.relid = p.relid) AS writes
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(schema, name, ord)
       LEFT JOIN pg_namespace n ON n.nspname = t.schema
       LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name AND c.relkind IN ('r', 'p')
      ORDER BY t.ord`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  const missing = rows.filter((r) => !pgBool(r.found)).map((r) => qualifiedName(r));
  if (missing.length > 0) {
    throw new ZerolossError("TABLE_NOT_FOUND", `table ${missing.join(", ")} does not exist in the source database, so its writes cannot be watched`, { details: { tables: missing } });
  }
  const out: Record<string, string> = {};
  for (const r of rows) out[qualifiedName(r)] = r.writes;
  return out;
}

/** The sessions and prepared transactions of this database holding written, uncommitted work, but the caller's and zeroloss's own. */
export async function readWriterSessions(client: pg.Client, ignoreApplicationPrefixes: readonly string[]): Promise<WriterSession[]> {
  const rows = await query<{
    pid: string | null;
    usename: string | null;
    application_name: string | null;
    client_addr: string | null;
    xact_start: string | null;
    xid: string;
    gid: string | null;
  }>(
    client,
    "reading the sessions that hold written, uncommitted work",
    // Walsenders are replication connections, not writers. An autovacuum worker gets an xid
    // when ANALYZE writes pg_statistic: no application write either.
    `SELECT a.pid::text AS pid, a.usename::text AS usename, a.application_name, host(a.client_addr) AS client_addr,
            a.xact_start::text AS xact_start, a.backend_xid::text AS xid, NULL::text AS gid
       FROM pg_stat_activity a
      WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_xid IS NOT NULL
        AND a.backend_type NOT IN ('walsender', 'autovacuum worker')
        AND NOT EXISTS (SELECT 1 FROM unnest($1::text[]) AS i(prefix) WHERE starts_with(coalesce(a.application_name, ''), i.prefix))
     UNION ALL
     SELECT NULL, x.owner::text, '', NULL, x.prepared::text, x.transaction::text, x.gid
       FROM pg_prepared_xacts x
      WHERE x.database = current_database()
      ORDER BY xact_start, pid`,
    [ignoreApplicationPrefixes],
  );
  return rows.map((r) => ({
    pid: r.pid === null ? null : Number(r.pid),
    usename: r.usename,
    applicationName: r.application_name ?? "",
    clientAddr: r.client_addr,
    xactStart: r.xact_start,
    xid: r.xid,
    preparedGid: r.gid,
  }));
}

/** One writer for a message: enough to find it in pg_stat_activity or pg_prepared_xacts. */
export function describeWriter(w: WriterSession): string {
  if (w.pid === null) return `prepared transaction '${w.preparedGid ?? ""}' (owner ${w.usename ?? "?"}, prepared at ${w.xactStart ?? "?"}, xid ${w.xid})`;
  const from = w.clientAddr === null ? "a local socket" : w.clientAddr;
  return `pid ${w.pid} (user ${w.usename ?? "?"}, application "${w.applicationName}", from ${from}, transaction open since ${w.xactStart ?? "?"}, xid ${w.xid})`;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls until no other session holds written, uncommitted work and the watched tables'
 * write counters stand still, both for `quietMs` without a break; then reads the fence LSN.
 * Throws FENCE_WRITES_CONTINUE at `timeoutMs`, naming the writers and the tables that moved,
 * and FENCE_WAIT_STOPPED when `stopped()` turns true.
 */
export async function waitForWritesToStop(client: pg.Client, options: WaitForWritesOptions): Promise<WritesStopped> {
  const quietMs = options.quietMs ?? DEFAULT_QUIET_MS;
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const ignore = options.ignoreApplicationPrefixes ?? ["zeroloss"];
  const deadline = Date.now() + options.timeoutMs;
  let before: Record<string, string> | null = null;
  let quietSince: number | null = null;
  /** When each table's counter last moved: the timeout names those that moved within the last quietMs. */
  const lastMoved = new Map<string, number>();
  for (;;) {
    if (options.stopped?.() === true) {
      throw new ZerolossError("FENCE_WAIT_STOPPED", "the wait for the source's writes to stop was ended before they stopped; no fence LSN was taken");
    }
    const writers = await readWriterSessions(client, ignore);
    const writes = await readTableWrites(client, options.tables);
    const now = Date.now();
    const previous = before;
    const moved = previous === null ? [] : Object.keys(writes).filter((t) => writes[t] !== previous[t]);
    for (const t of moved) lastMoved.set(t, now);
    before = writes;
    if (writers.length > 0 || moved.length > 0) quietSince = null;
    else quietSince ??= now;
    const quietForMs = quietSince === null ? 0 : now - quietSince;
    options.onProgress?.({ quietForMs, writers, movedTables: moved });
    if (quietSince !== null && quietForMs >= quietMs) {
      const lsn = await query<{ lsn: string }>(client, "reading the fence LSN", "SELECT pg_current_wal_lsn()::text AS lsn");
      const at = new Date();
      if (lsn[0] === undefined) throw new ZerolossError("PG_FAILED", "reading the fence LSN returned no row");
      return { lsn: lsn[0].lsn, at, tableWrites: writes };
    }
    if (now >= deadline) {
      const recent = [...lastMoved].filter(([, t]) => now - t < quietMs).map(([table]) => table);
      const parts = [
        ...(writers.length > 0 ? [`still writing: ${writers.map(describeWriter).join("; ")}`] : []),
        ...(recent.length > 0 ? [`write counters moved within the last ${quietMs} ms: ${recent.join(", ")}`] : []),
        ...(writers.length === 0 && recent.length === 0 ? [`quiet for ${quietForMs} ms of the ${quietMs} ms needed`] : []),
      ];
      throw new ZerolossError("FENCE_WRITES_CONTINUE", `the source's writes did not stop within ${options.timeoutMs} ms: ${parts.join("; ")}`, {
        details: { writers, movedTables: recent, quietForMs },
      });
    }
    await pause(Math.max(0, Math.min(intervalMs, deadline - Date.now())));
  }
}
