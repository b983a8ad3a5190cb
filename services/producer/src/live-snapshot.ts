// Tables that begin to match source.tables while the producer streams (created later, or
// matched by a changed pattern): added to the publication and snapshotted in primary-key
// chunks while the stream goes on, the watermark method of DESIGN.md (Netflix's DBLog).
// Up to source.snapshot.workers tables at once, each on a connection of its own and one
// chunk at a time; the other tables' changes flow meanwhile.
//
// Adding a table: its topic is created, the streamer records it as live in a committed
// checkpoint, and only then is it added to the publication, so a crash at any point either
// finds it live (and goes on with its snapshot) or not yet published (and adds it again).
// Its changes are streamed from the publication change on.
//
// Each chunk:
//   1. The floor: the WAL insert position is read, then a transaction id is taken, and the
//      chunk waits until every transaction up to that id has ended. A transaction that wrote
//      before the floor was running by then, so it has ended and the read sees it. A change
//      the read does not see was therefore written after the floor. The rows carry the floor
//      minus one as their LSN, and the target takes every such change over them, before or
//      after them in Kafka (its merge keeps a row's newest LSN).
//   2. The read, in one REPEATABLE READ transaction that first locks the table against DDL:
//      the column list, the rows after the last key (the initial snapshot's COPY reader:
//      the source computes each row's checksum, the rows stay COPY text), the transaction
//      snapshot, and a transactional logical message (the watermark) that commits with it.
//   3. The streamer emits the rows where the watermark arrives in the stream (bulk records,
//      as the initial snapshot's), or the chunk is read again when a truncate or an unseen
//      TOAST-keeping update came first (WatermarkWindow.join). The next checkpoint records
//      the progress with the rows.
import { ZerolossError } from "@zeroloss/errors";
import {
  addToPublication,
  describeTable,
  inTransaction,
  parseLsn,
  parseTxSnapshot,
  publishedTables,
  qualifiedName,
  query,
  quoteTable,
  resolveTables,
  widenXid,
  type Lsn,
  type TableInfo,
  type TableName,
} from "@zeroloss/pg";
import type { KeyValues, SnapshotTableProgress, TopicNames } from "@zeroloss/wire";
import { randomBytes } from "node:crypto";
import type pg from "pg";
import type { Logger } from "pino";
import { schemaFromTable, type RelationSchema, type ValueEncoding } from "./envelopes.js";
import { readChunk as readSnapshotChunk } from "./snapshot-chunk.js";
import { TableRanges } from "./snapshot-ranges.js";
import type { ProducerMetrics } from "./metrics.js";
import { WATERMARK_PREFIX, type Streamer } from "./streamer.js";
import type { ChunkOutcome, LiveChunk } from "./watermark-window.js";

export interface LiveSnapshotOptions {
  /** A connection of its own: looking for new tables, adding them. */
  readonly client: pg.Client;
  /** Tables snapshotted at once (source.snapshot.workers), each on a connection of its own (it holds the chunk's transaction). */
  readonly workers: number;
  /** Opens a worker's connection (kept until close()). */
  readonly connect: () => Promise<pg.Client>;
  readonly tables: readonly string[];
  readonly exclude: readonly string[];
  readonly publication: string;
  /** source.snapshot.mode never: a new table is added to the publication without a snapshot. */
  readonly withSnapshot: boolean;
  readonly chunkSize: number;
  /** How often to look for new tables; 0: only when the stream starts. */
  readonly checkEveryMs: number;
  readonly topics: TopicNames;
  readonly encoding: ValueEncoding;
  readonly streamer: Streamer;
  /** Creates the table's topic (when missing) and tells the Kafka writer its partitions. */
  readonly addTopic: (table: TableInfo) => Promise<void>;
  readonly log: Logger;
  readonly metrics: ProducerMetrics;
}

export class LiveSnapshots {
  private stopped = false;
  private wake: (() => void) | null = null;
  private readonly log: Logger;
  /** Chunk ids name this run, so a watermark replayed from an earlier run matches nothing. */
  private readonly run = randomBytes(6).toString("hex");
  private chunkSeq = 0;
  /** Tables already reported as lacking a key (reported again once they have one and lose it). */
  private readonly keyless = new Set<string>();
  /** Tables to snapshot again (zeroloss snapshot --table), live in the streamer already. */
  private readonly requested: string[] = [];
  /** With checkEveryMs 0, new tables are looked for once, when the stream starts. */
  private firstLook = true;
  /** The workers' connections, opened as needed. */
  private readonly clients: pg.Client[] = [];

  constructor(private readonly o: LiveSnapshotOptions) {
    this.log = o.log.child({ component: "live-snapshot" });
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Closes the workers' connections (after stop()). */
  async close(): Promise<void> {
    for (const c of this.clients.splice(0)) await c.end().catch(() => undefined); // closing at exit: nothing to report
  }

  /** A table the stream asked to snapshot again (Streamer.snapshotRequest): read after the current one. */
  request(table: string): void {
    this.requested.push(table);
    this.wake?.();
  }

  /** Runs until stop(); a failure (thrown) ends the stream, and the producer restarts or stops. */
  async runLoop(): Promise<void> {
    const resumed = [...this.o.streamer.window.tables.values()];
    for (const p of resumed) this.log.info({ table: p.table, rowsDone: p.rows, resumeAfterKey: p.lastKey }, "resuming the snapshot of a table added while streaming (or requested)");
    await this.snapshotTables(resumed);
    while (!this.stopped) {
      // A request for a table resumed above finds it done (no longer live) and is skipped.
      const requested = this.requested.splice(0).flatMap((t) => {
        const progress = this.o.streamer.window.tables.get(t);
        return progress === undefined ? [] : [progress];
      });
      await this.snapshotTables(requested);
      const fresh = this.o.checkEveryMs === 0 && !this.firstLook ? [] : await this.newTables();
      this.firstLook = false;
      const added: SnapshotTableProgress[] = [];
      for (const t of fresh) {
        if (this.stopped) return;
        const start = await this.addTable(t);
        if (start !== null) added.push(start);
      }
      await this.snapshotTables(added);
      if (fresh.length > 0 || this.requested.length > 0) continue;
      // With checkEveryMs 0, only a snapshot request wakes the loop.
      await new Promise<void>((resolve) => {
        const timer = this.o.checkEveryMs === 0 ? null : setTimeout(resolve, this.o.checkEveryMs);
        this.wake = () => {
          if (timer !== null) clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }


  /**
   * Snapshots the tables, up to `workers` at once, each on a worker's connection. The
   * watermark rules hold per table (WatermarkWindow keeps each table's chunks and changes
   * apart), so tables need no order among them. A failure ends the stream once every worker
   * has stopped.
   */
  private async snapshotTables(tables: readonly SnapshotTableProgress[]): Promise<void> {
    const queue = [...tables];
    const worker = async (slot: number): Promise<void> => {
      try {
        for (let t = queue.shift(); t !== undefined && !this.stopped; t = queue.shift()) {
          this.clients[slot] ??= await this.o.connect();
          await this.snapshotTable(t, this.clients[slot]);
        }
      } catch (err) {
        queue.length = 0; // the others stop after their table: the stream restarts from the checkpoints
        throw err;
      }
    };
    const results = await Promise.allSettled(Array.from({ length: Math.min(this.o.workers, queue.length) }, (_, i) => worker(i)));
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  }

  /** Tables matching source.tables that are neither published nor being snapshotted. */
  private async newTables(): Promise<TableName[]> {
    const c = this.o.client;
    const [matching, published] = [await resolveTables(c, this.o.tables, this.o.exclude), await publishedTables(c, this.o.publication)];
    const known = new Set([...published.map(qualifiedName), ...this.o.streamer.window.tables.keys()]);
    return matching.filter((t) => !known.has(qualifiedName(t)));
  }

  /** Adds a new table to the stream; the progress its snapshot starts from, or null when it takes none (yet). */
  private async addTable(name: TableName): Promise<SnapshotTableProgress | null> {
    const table = qualifiedName(name);
    let info: TableInfo;
    try {
      info = await describeTable(this.o.client, name);
    } catch (err) {
      if (err instanceof ZerolossError && err.code === "TABLE_NOT_FOUND") return null; // dropped again since
      throw err;
    }
    if (info.keyColumns.length === 0) {
      if (!this.keyless.has(table)) {
        this.keyless.add(table);
        this.o.metrics.errors.inc({ code: "TABLE_WITHOUT_KEY" });
        this.log.error(
          { table, code: "TABLE_WITHOUT_KEY" },
          `new table ${table} matches source.tables but has no primary key or replica identity index; it is not streamed until it has one (checked every ${this.o.checkEveryMs / 1000} s)`,
        );
      }
      return null;
    }
    this.keyless.delete(table);
    await this.o.addTopic(info);
    if (!this.o.withSnapshot) {
      await addToPublication(this.o.client, this.o.publication, name);
      this.log.info({ table }, "new table added to the publication; streaming its changes without a snapshot (source.snapshot.mode never)");
      return null;
    }
    this.o.streamer.window.begin(table);
    await this.o.streamer.checkpoint(); // live in Kafka before its first change can be
    this.log.info({ table, estimatedRows: info.estimatedRows }, "new table: snapshotting it while streaming");
    return { table, done: false, lastKey: null, rows: 0, ...(info.estimatedRows === null ? {} : { estimatedRows: info.estimatedRows }) };
  }

  /** One table's snapshot, chunk after chunk, on the worker's connection `c`. */
  private async snapshotTable(start: SnapshotTableProgress, c: pg.Client): Promise<void> {
    const name = await this.tableName(start.table, c);
    // A requested table the stream does not carry (zeroloss snapshot checks this first): one empty last chunk ends it.
    const unknown = !(await this.matches(name, c));
    if (unknown) {
      this.o.metrics.errors.inc({ code: "SNAPSHOT_TABLE_UNKNOWN" });
      this.log.error({ table: start.table, code: "SNAPSHOT_TABLE_UNKNOWN" }, `snapshot requested for ${start.table}, which does not match source.tables (or is excluded, or does not exist); nothing to snapshot`);
    } else if (await addToPublication(c, this.o.publication, name)) {
      this.log.info({ table: start.table }, "added to the publication");
    }
    let progress = start;
    if (progress.estimatedRows === undefined && !unknown) {
      // A requested table: its estimate from the planner's statistics (-1: never analyzed, none).
      const r = await query<{ n: string }>(c, `estimating the rows of ${start.table}`, "SELECT reltuples::bigint::text AS n FROM pg_class WHERE oid = $1::regclass", [quoteTable(name)]);
      const n = Number(r[0]?.n ?? -1);
      if (n >= 0) progress = { ...progress, estimatedRows: n };
    }
    if (progress.estimatedRows !== undefined) this.o.metrics.snapshotRowsEstimated.set({ table: start.table }, progress.estimatedRows);
    let lastLog = Date.now();
    this.o.metrics.snapshotRows.set({ table: start.table }, progress.rows);
    while (!this.stopped && !progress.done) {
      const floor = await this.floor(start.table, c);
      if (this.stopped) return;
      const { outcome, next } = await this.readChunk(c, name, progress, floor, unknown);
      if ("retry" in outcome) {
        this.o.metrics.liveChunkRetries.inc({ table: start.table });
        this.log.info({ table: start.table, afterKey: progress.lastKey, why: outcome.retry }, "reading a chunk again");
        continue;
      }
      progress = next;
      this.o.metrics.snapshotRows.set({ table: start.table }, progress.rows);
      if (Date.now() - lastLog > 5_000 || progress.done) {
        lastLog = Date.now();
        this.log.info({ table: start.table, rowsDone: progress.rows, done: progress.done }, progress.done ? "table snapshot complete (taken while streaming)" : "snapshot progress");
      }
    }
  }

  /** Whether the table exists and matches source.tables (minus source.exclude). */
  private async matches(name: TableName, c: pg.Client): Promise<boolean> {
    const matching = await resolveTables(c, this.o.tables, this.o.exclude);
    return matching.some((t) => qualifiedName(t) === qualifiedName(name));
  }

  /** The schema and name of `schema.table` (either may hold a dot): as the catalog knows it, else split at the first dot. */
  private async tableName(qualified: string, c: pg.Client): Promise<TableName> {
    const known = [...(await publishedTables(c, this.o.publication)), ...(await resolveTables(c, this.o.tables, this.o.exclude))];
    const found = known.find((t) => qualifiedName(t) === qualified);
    if (found !== undefined) return found;
    const dot = qualified.indexOf(".");
    return { schema: qualified.slice(0, dot), name: qualified.slice(dot + 1) };
  }

  /**
   * The LSN below every change the next read will not see (step 1 above). Waits for the
   * transactions that were running when it was taken, and says which ones while it waits.
   */
  private async floor(table: string, c: pg.Client): Promise<Lsn> {
    const at = (await query<{ lsn: string }>(c, "reading the WAL insert position", "SELECT pg_current_wal_insert_lsn()::text AS lsn"))[0]?.lsn ?? "0/0";
    const xid = BigInt((await query<{ xid: string }>(c, "taking a transaction id", "SELECT pg_current_xact_id()::text AS xid"))[0]?.xid ?? "0");
    const started = Date.now();
    let reported = started;
    for (;;) {
      const xmin = BigInt((await query<{ xmin: string }>(c, "reading the oldest running transaction", "SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin"))[0]?.xmin ?? "0");
      if (xmin > xid || this.stopped) break;
      if (Date.now() - reported >= 10_000) {
        reported = Date.now();
        const blockers = await query<{ pid: number; xid: string; state: string | null; since: string | null; query: string | null }>(
          c,
          "naming the transactions a live snapshot waits for",
          `SELECT pid, backend_xid::text AS xid, state, xact_start::text AS since, left(query, 120) AS query FROM pg_stat_activity
            WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() ORDER BY xact_start`,
        );
        const older = blockers.filter((b) => widenXid(Number(b.xid), xid) < xid);
        this.log.warn(
          { table, waitedSeconds: Math.round((Date.now() - started) / 1000), transactions: older.slice(0, 10) },
          "the next snapshot chunk waits for transactions that began before it to end (a long-running or prepared transaction holds it up)",
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return parseLsn(at) - 1n;
  }

  /** Step 2: one chunk read in its own transaction, handed to the streamer, and the watermark committed with it. */
  private async readChunk(c: pg.Client, name: TableName, progress: SnapshotTableProgress, floor: Lsn, unknown = false): Promise<{ outcome: ChunkOutcome; next: SnapshotTableProgress }> {
    const table = qualifiedName(name);
    const id = `${this.run}:${++this.chunkSeq}`;
    let read: { next: SnapshotTableProgress; registered: Promise<ChunkOutcome> };
    try {
      read = await inTransaction(
        c,
        `a snapshot chunk of ${table}`,
        async () => {
          let rel: RelationSchema | null = null;
          let keyIndexes: readonly number[] = [];
          let lines: readonly string[] = [];
          let lastKey: KeyValues | null = null;
          let dropped = unknown;
          if (!dropped) {
            try {
              // Before the first statement that takes the snapshot: DDL on the table waits for this chunk.
              await query(c, `locking ${table} for a snapshot chunk`, `LOCK TABLE ${quoteTable(name)} IN ACCESS SHARE MODE`);
            } catch (err) {
              if (!(err instanceof ZerolossError && err.details["sqlstate"] === "42P01")) throw err;
              // Dropped: an empty last chunk ends its snapshot (the publication forgot it with the table).
              dropped = true;
              await query(c, "ending a snapshot chunk", "ROLLBACK");
              await query(c, `beginning the last snapshot chunk of ${table}`, "BEGIN");
              this.log.warn({ table }, "table dropped before its snapshot finished; its snapshot ends here");
            }
          }
          if (!dropped) {
            const info = await describeTable(c, name);
            rel = await this.o.encoding.prepare(schemaFromTable(this.o.topics, info));
            // The initial snapshot's reader: the source computes each row's checksum, and the rows stay COPY text.
            const reader = new TableRanges(info);
            keyIndexes = reader.keyIndexes;
            ({ lines, lastKey } = await readSnapshotChunk(c, reader, { after: null, to: null, lastKey: progress.lastKey, done: false, rows: progress.rows }, this.o.chunkSize));
          }
          const snapshot = parseTxSnapshot((await query<{ s: string }>(c, "reading the chunk's transaction snapshot", "SELECT pg_current_snapshot()::text AS s"))[0]?.s ?? "");
          const done = rel === null || lines.length < this.o.chunkSize;
          const next: SnapshotTableProgress = {
            ...progress,
            table,
            done,
            lastKey: lastKey ?? progress.lastKey,
            rows: progress.rows + lines.length,
          };
          const chunk: LiveChunk = { id, table, rel, lines, keyIndexes, floor, snapshot, progress: next };
          const registered = this.o.streamer.window.expect(chunk);
          // Observed here so a stream that fails before this transaction commits is never an
          // unhandled rejection; the await at the end rethrows it.
          registered.catch(() => undefined);
          await query(c, "writing the chunk's watermark", "SELECT pg_logical_emit_message(true, $1, $2)", [WATERMARK_PREFIX, id]);
          return { next, registered };
        },
        { begin: "BEGIN ISOLATION LEVEL REPEATABLE READ" },
      );
    } catch (err) {
      this.o.streamer.window.forget(id); // a chunk not registered yet is forgotten as well
      throw err;
    }
    return { outcome: await read.registered, next: read.next };
  }
}
