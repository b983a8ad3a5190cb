// The initial snapshot: every table cut into key ranges (snapshot-ranges.ts), read by
// `workers` connections at once, all inside the snapshot the slot exported, as op `r`
// records (bulk records with JSON values, snapshot-chunk.ts). One sender puts the chunks
// read into Kafka transactions, each together with the checkpoint of the progress of every
// range, so a crash resumes after the last committed chunk of each range: no chunk is read
// twice, none is missed. Workers read the next chunk while the last one is being sent.
//
// A fresh snapshot imports the one exported when the slot was created, so it sees exactly
// the commits before the consistent point. After a crash that snapshot is gone; the
// remaining chunks are read in a new snapshot (one, shared by the workers). Rows changed
// after the consistent point may then be read in their newer state; those changes are also
// streamed afterwards (the slot still starts at the consistent point), so the target
// converges to the same rows (docs/producer.md, "Snapshot").
//
// An `r` record's LSN is the slot's restart LSN at creation, not its consistent point: a
// transaction still open at the consistent point is invisible to the snapshot, yet its
// changes were written before that point and are streamed with their own, lower LSNs. The
// target keeps a row's newest LSN and takes only newer changes, so a snapshot row stamped
// with the consistent point would win over them and the open transaction's changes would
// be dropped as stale. Every streamed change lies after the restart LSN (the slot decodes
// whole only transactions that began after it), so stamped with it a snapshot row yields
// to all of them. `commitLsn` stays the consistent point.
import { ZerolossError } from "@zeroloss/errors";
import { formatLsn, qualifiedName, query, quoteTable, type Lsn, type TableInfo } from "@zeroloss/pg";
import type { Checkpoint, SnapshotRange, SnapshotTableProgress, TopicNames } from "@zeroloss/wire";
import type pg from "pg";
import type { Logger } from "pino";
import { schemaFromTable, type RelationSchema, type ValueEncoding } from "./envelopes.js";
import type { KafkaWriter } from "./kafka-writer.js";
import { ManifestBuilder, type BuiltManifest } from "./manifest.js";
import type { ProducerMetrics } from "./metrics.js";
import { bulkRecords, readChunk, rowRecords, type ChunkRecords } from "./snapshot-chunk.js";
import { rangeCount, rangesOf, TableRanges } from "./snapshot-ranges.js";
import { SnapshotProgressLog } from "./snapshot-progress.js";

export interface SnapshotOptions {
  /** Connections already inside the snapshot's REPEATABLE READ transaction, all in the same snapshot: one per worker. */
  readonly clients: readonly pg.Client[];
  readonly tables: readonly TableInfo[];
  readonly progress: readonly SnapshotTableProgress[];
  readonly consistentLsn: Lsn;
  /** The `lsn` of every `r` record: below every change the snapshot did not see (see the file's head). */
  readonly floorLsn: Lsn;
  readonly slot: string;
  readonly db: string;
  readonly chunkSize: number;
  /** Rows many to a record (source.snapshot.bulk). */
  readonly bulk: boolean;
  readonly topics: TopicNames;
  readonly encoding: ValueEncoding;
  readonly writer: KafkaWriter;
  readonly log: Logger;
  readonly metrics: ProducerMetrics;
  /** Checked between chunks; true stops the snapshot (it resumes on the next start). */
  readonly stopped: () => boolean;
}

export function initialProgress(tables: readonly TableInfo[]): SnapshotTableProgress[] {
  return tables.map((t) => ({ table: qualifiedName(t), done: false, lastKey: null, rows: 0 }));
}

/** A table of the snapshot: its ranges as committed (null until planned), and how it is read. */
interface TableWork {
  readonly info: TableInfo;
  readonly name: string;
  readonly reader: TableRanges;
  readonly rel: RelationSchema;
  readonly estimated: number;
  ranges: SnapshotRange[] | null;
}

/** A chunk read and turned into records, waiting for the sender. */
interface ReadChunk {
  readonly table: TableWork;
  readonly range: number;
  readonly records: ChunkRecords;
  readonly manifest: BuiltManifest;
  readonly rows: number;
  /** The range after this chunk is committed. */
  readonly next: SnapshotRange;
}

/** commitTime of each chunk: unique (it names the chunk's manifest), in microseconds. */
class ChunkClock {
  private last = 0;

  next(): string {
    const now = Date.now() * 1000;
    this.last = now > this.last ? now : this.last + 1;
    const ms = Math.floor(this.last / 1000);
    return new Date(ms).toISOString().replace("Z", `${String(this.last % 1000).padStart(3, "0")}Z`);
  }
}

/** Bytes of encoded records that may wait for the sender, whatever the rows' width. */
const QUEUE_BYTES = 64 * 1024 * 1024;

/**
 * Chunks read, waiting for the sender. `put` waits while `limit` chunks, or QUEUE_BYTES of
 * records, wait (memory stays bounded); once closed (the workers are done, or the snapshot
 * failed) nothing waits.
 */
class ChunkQueue {
  private readonly items: ReadChunk[] = [];
  private bytes = 0;
  private waiters: Array<() => void> = [];
  private closed = false;

  constructor(private readonly limit: number) {}

  async put(chunk: ReadChunk): Promise<void> {
    while (this.items.length > 0 && (this.items.length >= this.limit || this.bytes >= QUEUE_BYTES) && !this.closed) await this.wait();
    if (this.closed) return;
    this.items.push(chunk);
    this.bytes += sizeOf(chunk);
    this.wakeAll();
  }

  /** Every chunk waiting; waits for one unless closed. Empty: closed, and nothing is left. */
  async takeAll(): Promise<ReadChunk[]> {
    while (this.items.length === 0 && !this.closed) await this.wait();
    const taken = this.items.splice(0);
    this.bytes = 0;
    this.wakeAll();
    return taken;
  }

  close(): void {
    this.closed = true;
    this.wakeAll();
  }

  private wait(): Promise<void> {
    return new Promise<void>((r) => this.waiters.push(r));
  }

  private wakeAll(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

function sizeOf(chunk: ReadChunk): number {
  return chunk.records.records.reduce((n, r) => n + r.record.value.length, 0);
}

export async function runSnapshot(o: SnapshotOptions): Promise<SnapshotTableProgress[]> {
  const log = o.log.child({ component: "snapshot" });
  const consistent = formatLsn(o.consistentLsn);
  const floor = formatLsn(o.floorLsn);
  const first = o.clients[0];
  if (first === undefined) throw new Error("runSnapshot needs at least one connection");
  const known = new Map(o.progress.map((p) => [p.table, p]));
  const work: TableWork[] = [];
  for (const info of o.tables) {
    const name = qualifiedName(info);
    const p = known.get(name);
    if (p === undefined) {
      throw new ZerolossError("SNAPSHOT_TABLE_UNKNOWN", `table ${name} is not part of the snapshot in progress; finish it or start over with --resnapshot`, {
        details: { table: name },
      });
    }
    let estimated = info.estimatedRows;
    if (!p.done && (estimated === null || estimated < 1)) {
      const c = await query<{ n: string }>(first, `counting ${name}`, `SELECT count(*) AS n FROM ${quoteTable(info)}`);
      estimated = Number(c[0]?.n ?? 0);
    }
    const t: TableWork = {
      info,
      name,
      reader: new TableRanges(info),
      rel: await o.encoding.prepare(schemaFromTable(o.topics, info)),
      estimated: Math.max(estimated ?? 0, p.rows),
      ranges: rangesOf(p),
    };
    if (t.ranges === null) t.ranges = await t.reader.plan(first, rangeCount(t.estimated, o.chunkSize, o.clients.length), t.estimated);
    work.push(t);
    o.metrics.snapshotRowsEstimated.set({ table: name }, t.estimated);
    o.metrics.snapshotRows.set({ table: name }, p.rows);
  }
  const progressOf = (t: TableWork): SnapshotTableProgress => {
    const ranges = t.ranges ?? [];
    return { table: t.name, done: ranges.every((r) => r.done), lastKey: null, rows: ranges.reduce((n, r) => n + r.rows, 0), estimatedRows: t.estimated, ranges };
  };
  const progress = () => work.map(progressOf);
  const report = new SnapshotProgressLog(log, o.metrics, work.map((t) => ({ table: t.name, estimated: t.estimated, rows: progressOf(t).rows })));
  report.start();

  // The ranges still to read, in table order; each is read by one worker from start to end.
  const todo = work.flatMap((t) => (t.ranges ?? []).flatMap((r, i) => (r.done ? [] : [{ table: t, range: i }])));
  const clock = new ChunkClock();
  const queue = new ChunkQueue(o.clients.length);
  let failure: unknown = null;
  let running = o.clients.length;
  const halted = () => failure !== null || o.stopped();

  const worker = async (client: pg.Client): Promise<void> => {
    try {
      for (let next = todo.shift(); next !== undefined && !halted(); next = todo.shift()) {
        const { table, range } = next;
        let at = (table.ranges ?? [])[range] as SnapshotRange;
        while (!at.done && !halted()) {
          const chunk = await readChunk(client, table.reader, at, o.chunkSize);
          const commitTime = clock.next();
          const source = { db: o.db, schema: table.info.schema, table: table.info.name, lsn: floor, commitLsn: consistent, xid: null, commitTime };
          const records = o.bulk ? bulkRecords(table.rel, chunk, table.reader.keyIndexes, o.writer.partitionCount(table.rel.topic), source) : rowRecords(table.rel, chunk, source);
          const manifest = new ManifestBuilder("snapshot", o.db, null, consistent, commitTime);
          for (const r of records.records) {
            const partition = r.record.partition ?? o.writer.partitionOf(r.record.topic, r.record.key);
            if (r.checksums.length === 1 && r.record.key !== null) manifest.add(table.name, r.record.topic, partition, r.checksums[0] ?? null);
            else manifest.addBulk(table.name, r.record.topic, partition, r.checksums);
          }
          at = { ...at, lastKey: chunk.lastKey ?? at.lastKey, done: chunk.lines.length < o.chunkSize, rows: at.rows + chunk.lines.length };
          await queue.put({ table, range, records, manifest: manifest.build(), rows: chunk.lines.length, next: at });
        }
      }
    } catch (err) {
      failure ??= err;
      queue.close();
    } finally {
      if (--running === 0) queue.close();
    }
  };

  const sender = async (): Promise<void> => {
    for (;;) {
      const chunks = await queue.takeAll();
      if (failure !== null || chunks.length === 0) return;
      const manifests: BuiltManifest[] = [];
      for (const c of chunks) {
        for (const r of c.records.records) await o.writer.add(r.record);
        if (c.rows > 0) manifests.push(c.manifest);
      }
      // The checkpoint holds every range's committed position: these chunks' as they are after them.
      const after = new Map<TableWork, SnapshotRange[]>();
      for (const c of chunks) {
        const ranges = after.get(c.table) ?? [...(c.table.ranges ?? [])];
        ranges[c.range] = c.next;
        after.set(c.table, ranges);
      }
      const tables = work.map((t) => progressOf(after.has(t) ? { ...t, ranges: after.get(t) ?? null } : t));
      const checkpoint: Checkpoint = {
        v: 1,
        slot: o.slot,
        db: o.db,
        lsn: consistent,
        phase: "snapshot",
        snapshot: { consistentLsn: consistent, floorLsn: floor, tables },
        at: new Date().toISOString(),
      };
      await o.writer.commit(manifests, checkpoint);
      for (const [t, ranges] of after) t.ranges = ranges;
      for (const c of chunks) {
        const p = progressOf(c.table);
        o.metrics.snapshotRows.set({ table: c.table.name }, p.rows);
        o.metrics.events.inc({ table: c.table.name, op: "r" }, c.records.records.length);
        o.metrics.rows.inc({ table: c.table.name, op: "r" }, c.records.records.reduce((n, r) => n + (r.record.rows ?? 1), 0));
        report.update(c.table.name, p.rows, p.done);
      }
    }
  };

  try {
    const sending = sender().catch((err: unknown) => {
      failure ??= err;
      queue.close();
    });
    await Promise.all(o.clients.map((c) => worker(c)));
    await sending;
  } finally {
    report.stop();
  }
  if (failure !== null) throw failure;
  return progress();
}
