// Streaming: pgoutput messages in, Kafka transactions out, slot acknowledged only behind
// them (DESIGN.md invariant 1, "No gap").
//
// Positions:
//   durable      — every source transaction ending at or before it is in committed Kafka
//                  records (or had nothing to publish); the slot is acknowledged up to it.
//   checkpointed — the LSN of the newest checkpoint committed to Kafka. durable never
//                  passes it (DESIGN.md invariant 10): the next start resumes from the
//                  checkpoint, so a slot acknowledged beyond it would hold a gap the
//                  producer cannot tell from a slot someone advanced by hand.
//   received     — the end of the last source transaction fully received (or a
//                  keepalive's WAL end, once every message before it is handled).
// A Kafka transaction is committed at a source commit boundary once it holds
// batchRecords records or lingerMs have passed, with the checkpoint of `received`; then
// `durable` becomes `received` and the slot is told. Positions reached without records
// (keepalives, heartbeats, transactions on unpublished tables) get a checkpoint-only
// Kafka transaction first, at most one per IDLE_CHECKPOINT_MS (catchUp()). Transactions
// the checkpoint already covers (commit LSN before it) are skipped: that, with the fenced
// transactional producer, makes every change appear exactly once in Kafka whatever
// instant the producer died at.
//
// Large source transactions: PostgreSQL decodes them whole and spills them to disk past
// logical_decoding_work_mem (protocol v1, no in-progress streaming); the producer sends
// their records into the open Kafka transaction in bounded batches as they arrive, so
// memory stays flat. The Kafka transaction timeout bounds how long one may take.
import { describeError, ZerolossError } from "@zeroloss/errors";
import {
  formatLsn,
  formatPgTimestamp,
  parseLsn,
  ReplicationStream,
  type ColumnFacts,
  type Lsn,
  type PgoutputMessage,
  type TypeNames,
} from "@zeroloss/pg";
import { UNCHANGED } from "@zeroloss/checksum";
import type { Failpoints } from "@zeroloss/failpoints";
import { decodeSnapshotRequest, SNAPSHOT_REQUEST_PREFIX, type Checkpoint, type EnvelopeSource, type SnapshotRequest, type SnapshotTableProgress, type TopicNames } from "@zeroloss/wire";
import type { Logger } from "pino";
import { completeMovedRow, deleteRecord, keyChanged, rowRecord, schemaFromRelation, truncateRecord, type BuiltRecord, type RelationSchema, type ValueEncoding } from "./envelopes.js";
import type { DataRecord, KafkaWriter } from "./kafka-writer.js";
import { ManifestBuilder } from "./manifest.js";
import { bulkRecords, lineValues } from "./snapshot-chunk.js";
import { WatermarkWindow, type RecentChange } from "./watermark-window.js";
import type { ProducerMetrics } from "./metrics.js";

export const HEARTBEAT_PREFIX = "zeroloss.heartbeat";
/**
 * The least time between two Kafka commits made only to acknowledge a position reached
 * without records (a keepalive's WAL end, a heartbeat): an idle stream writes about one
 * checkpoint a second, not one per keepalive, yet the slot still follows within a second.
 */
export const IDLE_CHECKPOINT_MS = 1_000;
/** The logical message that commits with a live snapshot chunk's read: where its rows join the stream. */
export const WATERMARK_PREFIX = "zeroloss.watermark";

export interface StreamerOptions {
  readonly url: string;
  readonly slot: string;
  readonly publication: string;
  readonly db: string;
  readonly topics: TopicNames;
  /** kafka.encoding: a relation's record values as JSON, or Avro with its schema registered. */
  readonly encoding: ValueEncoding;
  readonly writer: KafkaWriter;
  readonly types: TypeNames;
  readonly primaryKey: (relationOid: number, what: string) => Promise<readonly string[]>;
  /** Each column's attnum, and the value older rows hold of one added with a constant default (read from the catalog when a Relation message arrives). */
  readonly columnFacts: (relationOid: number, what: string) => Promise<ReadonlyMap<string, ColumnFacts>>;
  readonly batchRecords: number;
  readonly lingerMs: number;
  readonly log: Logger;
  readonly metrics: ProducerMetrics;
  /** producer.after-slot-ack (fault injection; Failpoints.none in production). */
  readonly failpoints: Failpoints;
  /** Called whenever `durable` advances. */
  readonly onDurable: (lsn: Lsn, commitTime: Date | null) => void;
  /** Tables being snapshotted alongside the stream, from the checkpoint (Checkpoint.live). */
  readonly live: readonly SnapshotTableProgress[];
  /** A table to snapshot again, requested through the stream (zeroloss snapshot --table); already live when called. */
  readonly onSnapshotRequest?: (table: string) => void;
  /** A live snapshot's rows many to a record (source.snapshot.bulk), as the initial snapshot's. */
  readonly bulk: boolean;
  /** Whether a row's key sorts after a live snapshot's last key read, as the table orders its key (catalog.ts keyIsAfter). */
  readonly keyAfter: (rel: RelationSchema, key: ReadonlyMap<string, string | null>, after: readonly (string | null)[]) => Promise<boolean>;
}

interface OpenTransaction {
  readonly xid: number;
  readonly commitLsn: string;
  readonly commitTime: string;
  readonly commitDate: Date;
  readonly manifest: ManifestBuilder;
  readonly perTableOps: Map<string, number>;
  seq: number;
}

export class Streamer {
  private stream: ReplicationStream | null = null;
  private relations = new Map<number, RelationSchema>();
  private txn: OpenTransaction | null = null;
  private skipping = false;
  private durable: Lsn;
  private checkpointed: Lsn;
  private received: Lsn;
  private skipBefore: Lsn;
  private manifests: ReturnType<ManifestBuilder["build"]>[] = [];
  private lastCommitDate: Date | null = null;
  private chain: Promise<void> = Promise.resolve();
  /** The Kafka commit in flight and the slot acknowledgement after it. */
  private committing: Promise<void> | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;
  /** Armed by catchUp() while the last Kafka commit is too recent for a checkpoint-only one. */
  private idleTimer: NodeJS.Timeout | null = null;
  /** When the last Kafka commit (of any kind) started: catchUp()'s rate limit. */
  private lastCommitAt = 0;
  /** Set when records lingered long enough while a commit was in flight (committedOnLanding). */
  private commitOnLanding = false;
  /** Records per table and op in the open Kafka transaction, for the events metric after commit. */
  private counted = new Map<string, Map<string, { records: number; rows: number }>>();
  private sourceTxnsInKafkaTxn = 0;
  private readonly log: Logger;
  private failure: ((err: ZerolossError) => void) | null = null;
  private finish: (() => void) | null = null;
  /** The live snapshot's tables, chunks waiting for their watermark, and the changes they must yield to. */
  readonly window: WatermarkWindow;
  /** Callers of checkpoint(), answered when the next Kafka commit lands. */
  private checkpointWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private checkpointWanted = false;
  lastMessageAt = Date.now();

  /**
   * `start`: the LSN of the checkpoint read from Kafka (or, with no checkpoint yet, where the
   * slot stands): the stream begins after it, and it is durable already.
   */
  constructor(private readonly options: StreamerOptions, start: Lsn) {
    this.durable = start;
    this.checkpointed = start;
    this.received = start;
    this.skipBefore = start;
    this.log = options.log.child({ component: "streamer" });
    this.window = new WatermarkWindow(options.live, (rel, key, after, unknown) => this.keyAfterOrUnknown(rel, key, after, unknown));
  }

  /**
   * `zeroloss snapshot --table`: each table named becomes live here, in the stream's order, so
   * the checkpoint that covers the request holds it (a crash before that reads the request
   * again); the live snapshot (onSnapshotRequest) then reads it while the stream goes on.
   */
  private snapshotRequest(content: Buffer): void {
    let request: SnapshotRequest;
    try {
      request = decodeSnapshotRequest(content);
    } catch (err) {
      this.log.error({ err: describeError(err) }, "ignoring a snapshot request that does not decode");
      return;
    }
    for (const table of request.tables) {
      if (!this.window.begin(table)) {
        this.log.info({ table }, "snapshot requested for a table already being snapshotted; it goes on");
        continue;
      }
      this.log.info({ table, requestedAt: request.at }, "snapshot requested (zeroloss snapshot --table): snapshotting it while streaming");
      this.options.onSnapshotRequest?.(table);
    }
  }

  /** Resolves once a Kafka transaction with a checkpoint written after this call has committed. */
  checkpoint(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.failure === null) {
        reject(new ZerolossError("STREAM_STOPPED", "the stream ended before a checkpoint could be written"));
        return;
      }
      this.checkpointWaiters.push({ resolve, reject });
      void this.serial(async () => {
        if (this.txn === null) await this.commitKafka();
        else this.checkpointWanted = true; // at the end of the source transaction being read
      });
    });
  }

  /** Fails the stream from outside (the live snapshot failed): the producer restarts or stops. */
  abort(err: unknown): void {
    this.fail(err);
  }

  get durableLsn(): Lsn {
    return this.durable;
  }

  /** A Kafka transaction is open or its commit (and the acknowledgement after it) is under way. */
  private get kafkaBusy(): boolean {
    return this.options.writer.open || this.committing !== null;
  }

  /** Work received but not yet durable in Kafka. */
  get pending(): boolean {
    return this.txn !== null || this.options.writer.recordsInTransaction > 0 || this.received > this.durable;
  }

  /** Streams until stop() (resolves) or a failure (rejects); the caller restarts from its durable position. */
  async run(): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      this.failure = reject;
      this.finish = resolve;
    });
    this.window.open();
    // Observed at once: the stream can fail (or be aborted by the live snapshot) while it is
    // still starting, before `done` is returned; the caller gets the failure either way.
    let failedFirst: unknown = null;
    done.catch((err: unknown) => {
      failedFirst = err;
    });
    this.stream = new ReplicationStream(
      { url: this.options.url, slot: this.options.slot, publication: this.options.publication, applicationName: "zeroloss-producer" },
      {
        onMessage: (lsn, msg) => this.serial(() => this.handle(lsn, msg)),
        onKeepalive: (walEnd, reply) => {
          // Judged on arrival: every message sent before this keepalive is handled.
          const quiet = this.stream?.unhandled === 0;
          void this.serial(() => this.keepalive(walEnd, reply, quiet));
        },
        onEnd: (err) => this.fail(err),
      },
    );
    try {
      await this.stream.start(this.durable);
    } catch (err) {
      // The failure that ended the stream first (an abort) names the cause better than the start's.
      if (failedFirst !== null) throw failedFirst;
      this.failure = null;
      this.window.close(new ZerolossError("STREAM_STOPPED", "the stream could not start", { cause: err }));
      throw err;
    }
    this.log.info({ from: formatLsn(this.durable), slot: this.options.slot }, "streaming changes");
    return done;
  }

  async stop(): Promise<void> {
    this.clearTimers();
    this.failure = null;
    this.dropWaiters(new ZerolossError("STREAM_STOPPED", "the stream was stopped"));
    await this.stream?.stop();
    this.stream = null;
    this.finish?.();
    this.finish = null;
  }

  private fail(err: unknown): void {
    const e = err instanceof ZerolossError ? err : new ZerolossError("STREAM_FAILED", String(err), { cause: err });
    const f = this.failure;
    this.failure = null;
    if (f === null) {
      // Already stopped or failed: the restart goes from the durable position; say what happened.
      if (e.code === "KAFKA_WRITER_CLOSED") this.log.debug({ err: e }, "a change arrived while the stream was stopping");
      else this.log.warn({ err: e }, "a failure after the stream had ended");
      return;
    }
    this.clearTimers();
    void this.stream?.stop();
    this.dropWaiters(e);
    f?.(e);
  }

  private clearTimers(): void {
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  private dropWaiters(e: ZerolossError): void {
    this.window.close(e);
    for (const w of this.checkpointWaiters.splice(0)) w.reject(e);
  }

  /** Runs `fn` after everything queued before it; a failure fails the stream. */
  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(async () => {
      if (this.failure === null) return;
      await fn();
    });
    this.chain = next.catch((err: unknown) => this.fail(err));
    return this.chain;
  }

  private async handle(lsn: string, msg: PgoutputMessage): Promise<void> {
    this.lastMessageAt = Date.now();
    switch (msg.tag) {
      case "begin": {
        if (msg.finalLsn < this.skipBefore) {
          this.skipping = true;
          this.log.debug({ xid: msg.xid, commitLsn: formatLsn(msg.finalLsn) }, "skipping a transaction the checkpoint covers");
          return;
        }
        const commitTime = formatPgTimestamp(msg.commitTime);
        this.txn = {
          xid: msg.xid,
          commitLsn: formatLsn(msg.finalLsn),
          commitTime,
          commitDate: new Date(commitTime),
          manifest: new ManifestBuilder("transaction", this.options.db, msg.xid, formatLsn(msg.finalLsn), commitTime),
          perTableOps: new Map(),
          seq: 0,
        };
        return;
      }
      case "relation":
        this.relations.set(
          msg.relationOid,
          await this.options.encoding.prepare(
            await schemaFromRelation(
              this.options.topics,
              msg,
              this.options.types,
              (oid) => this.options.primaryKey(oid, `${msg.schema}.${msg.name}`),
              (oid) => this.options.columnFacts(oid, `${msg.schema}.${msg.name}`),
              this.relations.get(msg.relationOid)?.columns,
            ),
          ),
        );
        return;
      case "type":
      case "origin":
        return;
      case "message":
        // A live snapshot's watermark: the chunk's rows join the stream here. Heartbeats
        // (and any other logical message) carry no row; their transaction's commit moves the
        // position on like any other.
        if (msg.prefix === WATERMARK_PREFIX && msg.transactional && !this.skipping) await this.watermark(msg.content.toString("utf8"));
        if (msg.prefix === SNAPSHOT_REQUEST_PREFIX && msg.transactional && !this.skipping) this.snapshotRequest(msg.content);
        return;
      case "insert":
      case "update":
      case "delete":
      case "truncate":
        if (this.skipping) return;
        await this.change(lsn, msg);
        return;
      case "commit":
        await this.commit(msg.endLsn);
        if (this.checkpointWanted && this.txn === null) {
          this.checkpointWanted = false;
          await this.commitKafka();
        }
        return;
    }
  }

  /**
   * A chunk's rows join the stream where its read committed, as the watermark window decides
   * them (watermark-window.ts): each with the LSN it carries, rows a change the read did not
   * see already overtook left out; or the chunk is read again.
   */
  private async watermark(id: string): Promise<void> {
    const waiting = this.window.take(id);
    if (waiting === undefined) return; // an earlier run's chunk: read again after the restart
    const { chunk } = waiting;
    try {
      const joined = await this.window.join(chunk);
      if ("retry" in joined) {
        waiting.resolve(joined);
        return;
      }
      const rel = chunk.rel;
      if (rel !== null) {
        const t = this.txn as OpenTransaction;
        const source = (lsn: Lsn) => ({ db: this.options.db, schema: rel.schema, table: rel.table, lsn: formatLsn(lsn), commitLsn: t.commitLsn, xid: null, commitTime: t.commitTime });
        // Rows at the floor travel as the initial snapshot's do (bulk records, one LSN for all);
        // a row carrying the LSN of a newer change the read saw, alone.
        const atFloor = joined.rows.filter((r) => r.lsn === chunk.floor).map((r) => r.line);
        const alone = this.options.bulk ? joined.rows.filter((r) => r.lsn !== chunk.floor) : joined.rows;
        if (this.options.bulk && atFloor.length > 0) {
          const { records } = bulkRecords(rel, { lines: atFloor }, chunk.keyIndexes, this.options.writer.partitionCount(rel.topic), source(chunk.floor), t.seq);
          t.seq += records.length;
          for (const r of records) await this.emitBulk(rel, r.record, r.checksums);
        }
        for (const { line, lsn } of alone) await this.emit(rel, rowRecord("r", rel, lineValues(line), { ...source(lsn), seq: t.seq++ }));
      }
      this.window.joined(chunk);
      waiting.resolve({ emitted: joined.rows.length });
    } catch (err) {
      waiting.fail(err); // the live snapshot learns it too; the stream fails with it
      throw err;
    }
  }

  private source(rel: RelationSchema, lsn: string): EnvelopeSource {
    const t = this.txn;
    if (t === null) throw new ZerolossError("PGOUTPUT_PROTOCOL", `a change to ${rel.qualified} at ${lsn} arrived outside a transaction`);
    return { db: this.options.db, schema: rel.schema, table: rel.table, lsn, commitLsn: t.commitLsn, xid: t.xid, commitTime: t.commitTime, seq: t.seq++ };
  }

  private relation(oid: number): RelationSchema {
    const rel = this.relations.get(oid);
    if (rel === undefined) throw new ZerolossError("PGOUTPUT_PROTOCOL", `a change refers to relation ${oid}, which no Relation message described`);
    return rel;
  }

  private async emit(rel: RelationSchema, built: BuiltRecord): Promise<void> {
    const t = this.txn as OpenTransaction;
    this.count(rel.qualified, built.op, 1);
    const partition = await this.options.writer.add(built.record);
    t.manifest.add(rel.qualified, built.record.topic, partition, built.checksum);
  }

  /** A bulk snapshot record of a live snapshot's chunk (rows many to a record). */
  private async emitBulk(rel: RelationSchema, record: DataRecord, checksums: readonly string[]): Promise<void> {
    const t = this.txn as OpenTransaction;
    this.count(rel.qualified, "r", checksums.length);
    const partition = await this.options.writer.add(record);
    t.manifest.addBulk(rel.qualified, record.topic, partition, checksums);
  }

  /** One record of `table` and `op` holding `rows` rows, for the metrics once its Kafka transaction commits. */
  private count(table: string, op: string, rows: number): void {
    let ops = this.counted.get(table);
    if (ops === undefined) this.counted.set(table, (ops = new Map()));
    const c = ops.get(op);
    if (c === undefined) ops.set(op, { records: 1, rows });
    else {
      c.records++;
      c.rows += rows;
    }
  }

  /** A row change: noted for the chunks of a table being snapshotted while streaming (watermark()), then emitted. */
  private async emitChange(rel: RelationSchema, built: BuiltRecord, lsn: string, keepsToast = false): Promise<void> {
    this.note(rel, built, lsn, keepsToast);
    await this.emit(rel, built);
  }

  private note(rel: RelationSchema, built: BuiltRecord, lsn: string, keepsToast: boolean, held?: RecentChange["held"]): void {
    this.window.note(rel.qualified, { key: built.record.key ?? "", xid: (this.txn as OpenTransaction).xid, lsn: parseLsn(lsn), keepsToast, ...(held === undefined ? {} : { held }) });
  }

  /**
   * keyAfter, or `unknown` when the table's key is no longer the one its snapshot pages by
   * (dropped, or its key changed): the caller then takes the side that cannot lose the change.
   */
  private async keyAfterOrUnknown(rel: RelationSchema, key: ReadonlyMap<string, string | null>, after: readonly (string | null)[], unknown: boolean): Promise<boolean> {
    try {
      return await this.options.keyAfter(rel, key, after);
    } catch (err) {
      if (!(err instanceof ZerolossError && err.code === "KEY_CHANGED")) throw err;
      this.log.warn({ table: rel.qualified, err: err.message }, "cannot place a row against its table's snapshot progress");
      return unknown;
    }
  }

  private async change(lsn: string, msg: Extract<PgoutputMessage, { tag: "insert" | "update" | "delete" | "truncate" }>): Promise<void> {
    switch (msg.tag) {
      case "insert": {
        const rel = this.relation(msg.relationOid);
        await this.emitChange(rel, rowRecord("c", rel, msg.newTuple, this.source(rel, lsn)), lsn);
        return;
      }
      case "update": {
        const rel = this.relation(msg.relationOid);
        if (msg.oldTuple !== null && keyChanged(rel, msg.oldTuple, msg.newTuple)) {
          const moved = completeMovedRow(rel, msg.newTuple, msg.oldTuple, msg.oldKind, lsn);
          await this.emitChange(rel, deleteRecord(rel, "K", msg.oldTuple, this.source(rel, lsn)), lsn);
          await this.emitChange(rel, rowRecord("c", rel, moved, this.source(rel, lsn)), lsn);
          return;
        }
        const built = rowRecord("u", rel, msg.newTuple, this.source(rel, lsn));
        const keepsToast = msg.newTuple.includes(UNCHANGED);
        const key = keepsToast ? this.window.notYetRead(rel, msg.newTuple) : null;
        if (key !== null && (await key.past)) {
          // The target has no row to keep the TOAST value from; the chunk that reads the row
          // brings this change with it (or is read again if it cannot: watermark()).
          this.note(rel, built, lsn, true, { rel, key: key.values });
          return;
        }
        await this.emitChange(rel, built, lsn, keepsToast);
        return;
      }
      case "delete": {
        const rel = this.relation(msg.relationOid);
        await this.emitChange(rel, deleteRecord(rel, msg.oldKind, msg.oldTuple, this.source(rel, lsn)), lsn);
        return;
      }
      case "truncate": {
        for (const oid of msg.relationOids) {
          const rel = this.relation(oid);
          this.window.noteTruncate(rel.qualified, parseLsn(lsn));
          const partitions = this.options.writer.partitionCount(rel.topic);
          const source = this.source(rel, lsn);
          for (let p = 0; p < partitions; p++) await this.emit(rel, truncateRecord(rel, p, { ...source, seq: p === 0 ? source.seq : (this.txn as OpenTransaction).seq++ }));
        }
        return;
      }
    }
  }

  private async commit(endLsn: Lsn): Promise<void> {
    if (this.skipping) {
      this.skipping = false;
      if (endLsn > this.received) this.received = endLsn;
      await this.catchUp();
      return;
    }
    const t = this.txn;
    this.txn = null;
    if (t === null) throw new ZerolossError("PGOUTPUT_PROTOCOL", `a commit at ${formatLsn(endLsn)} without a begin`);
    this.received = endLsn;
    if (t.manifest.records === 0) {
      // Nothing published (a heartbeat, or a transaction on other tables): durable once a checkpoint says so.
      await this.catchUp();
      return;
    }
    this.manifests.push(t.manifest.build());
    this.sourceTxnsInKafkaTxn++;
    this.lastCommitDate = t.commitDate;
    const writer = this.options.writer;
    if (writer.recordsInTransaction >= this.options.batchRecords) {
      await this.commitKafka(); // full: waits for a commit in flight (backpressure)
    } else if (writer.age >= this.options.lingerMs) {
      if (this.committing === null) await this.commitKafka();
      else this.commitOnLanding = true;
    } else if (this.lingerTimer === null) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = null;
        void this.serial(async () => {
          if (this.txn !== null || this.manifests.length === 0) return;
          if (this.committing === null) await this.commitKafka();
          else this.commitOnLanding = true;
        });
      }, Math.max(1, this.options.lingerMs - writer.age));
    }
  }

  /**
   * The transaction that lingered long enough while another commit was in flight commits
   * the moment that one lands. Waiting for it instead, as before, stalled reading the
   * stream for the whole commit; at a steady rate the linger then became linger + commit.
   */
  private committedOnLanding(): void {
    if (!this.commitOnLanding) return;
    this.commitOnLanding = false;
    void this.serial(async () => {
      if (this.txn === null && this.manifests.length > 0 && this.committing === null) await this.commitKafka();
    });
  }

  /**
   * Starts committing the Kafka transaction with the checkpoint of `received`, and returns
   * once the commit is under way: the next source transaction is read meanwhile. The slot
   * is acknowledged when the commit lands; a failed commit fails the stream.
   */
  private async commitKafka(): Promise<void> {
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    if (this.committing !== null) await this.committing; // one at a time
    if (this.failure === null) return; // stopped or failed meanwhile: nothing more is committed
    this.lastCommitAt = Date.now();
    const upTo = this.received;
    // A checkpoint-only commit (idle) carries no source commit: replication lag is none, not the age of the last one.
    const commitDate = this.manifests.length === 0 ? null : this.lastCommitDate;
    const live = this.window.forCheckpoint();
    const checkpoint: Checkpoint = {
      v: 1,
      slot: this.options.slot,
      db: this.options.db,
      lsn: formatLsn(upTo),
      phase: "streaming",
      ...(live.length === 0 ? {} : { live }),
      at: new Date().toISOString(),
    };
    const waiters = this.checkpointWaiters.splice(0);
    const manifests = this.manifests;
    const counted = this.counted;
    const sourceTxns = this.sourceTxnsInKafkaTxn;
    this.manifests = [];
    this.counted = new Map();
    this.sourceTxnsInKafkaTxn = 0;
    const landed = this.options.writer.commit(manifests, checkpoint).then(async () => {
      for (const [table, ops] of counted) {
        for (const [op, n] of ops) {
          this.options.metrics.events.inc({ table, op }, n.records);
          this.options.metrics.rows.inc({ table, op }, n.rows);
        }
      }
      this.options.metrics.sourceTransactions.inc(sourceTxns);
      this.skipBefore = upTo;
      if (upTo > this.checkpointed) this.checkpointed = upTo;
      await this.advance(upTo, commitDate);
    });
    this.committing = landed;
    landed.then(
      () => {
        if (this.committing === landed) this.committing = null;
        for (const w of waiters) w.resolve();
        this.committedOnLanding();
        // Transactions with nothing to publish that ended during the commit (or keepalives
        // meanwhile) are durable too once checkpointed; else only the next change would move the slot on.
        if (this.received > this.durable) void this.serial(() => this.catchUp());
      },
      (err: unknown) => {
        for (const w of waiters) w.reject(err);
        this.fail(err);
      },
    );
  }

  /**
   * Makes `received` durable when nothing waits for Kafka: acknowledged at once when a
   * checkpoint already covers it, else after a checkpoint-only Kafka transaction (at most
   * one per IDLE_CHECKPOINT_MS; a timer comes back for it). While records are open or a
   * commit is in flight, that commit's landing calls this again.
   */
  private async catchUp(): Promise<void> {
    if (this.received <= this.durable) return;
    if (this.received <= this.checkpointed) {
      await this.advance(this.received, null);
      return;
    }
    if (this.txn !== null || this.kafkaBusy || this.manifests.length > 0) return;
    const wait = this.lastCommitAt + IDLE_CHECKPOINT_MS - Date.now();
    if (wait <= 0) {
      await this.commitKafka();
      return;
    }
    if (this.idleTimer === null) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = null;
        void this.serial(() => this.catchUp());
      }, wait);
    }
  }

  private async advance(lsn: Lsn, commitDate: Date | null): Promise<void> {
    if (lsn < this.durable) throw new ZerolossError("INTERNAL", `the durable position would move back from ${formatLsn(this.durable)} to ${formatLsn(lsn)}`);
    // Invariant 10: never acknowledge what the checkpoint in Kafka does not cover.
    if (lsn > this.checkpointed) throw new ZerolossError("INTERNAL", `the slot would be acknowledged at ${formatLsn(lsn)}, past the checkpoint in Kafka at ${formatLsn(this.checkpointed)}`);
    this.durable = lsn;
    await this.stream?.acknowledge(lsn);
    await this.options.failpoints.hit("producer.after-slot-ack");
    this.options.onDurable(lsn, commitDate);
  }

  private async keepalive(walEnd: Lsn, replyRequested: boolean, quiet: boolean): Promise<void> {
    // The server's WAL end holds nothing more to publish only when every message sent
    // before this keepalive has been handled and nothing is waiting for Kafka; it becomes
    // durable (and is acknowledged) once a checkpoint covers it (catchUp()).
    const drained = quiet && this.txn === null && !this.kafkaBusy && this.manifests.length === 0;
    if (drained && walEnd > this.received) this.received = walEnd;
    await this.catchUp();
    // A reply is due now: the durable position, whatever catchUp() could or could not do yet.
    if (replyRequested) await this.stream?.acknowledge(this.durable);
  }
}
