// Kafka transactions holding whole source transactions (or snapshot chunks) and, last,
// the checkpoint of the source position they reach. Records are sent
// in bounded batches while the transaction is open, so a large source transaction never
// sits in memory whole; nothing is visible to read_committed readers until commit().
//
// Overlap with the broker, because waiting on it was most of the producer's time: one send
// may be in flight while the next batch fills, and one commit while the next transaction
// is filled and sent. Kafka allows one open transaction per transactional id, so
// transactions alternate between two transactional producers ("lanes", ids <id> and
// <id>-1): the next transaction sends on the other lane while this one commits. Order is
// kept: a transaction's first send waits for the previous transaction's sends, so its
// records follow them in every partition; its manifests, tallies and checkpoint are sent
// only after the previous commit landed, so checkpoints are in commit order and the newest
// one is the furthest; and a failed commit fails the next one too (the caller aborts it).
//
// Partitions are chosen here (Kafka's murmur2 on the key, packages/kafka/src/partition.ts),
// not by the client, so the offsets each record received are known and emitted tallies count
// records per (topic, partition, offset window): transaction markers take offsets too,
// and offset differences would miscount.
import { ZerolossError } from "@zeroloss/errors";
import type { Failpoints } from "@zeroloss/failpoints";
import { kafkaError, partitionForKey } from "@zeroloss/kafka";
import { encodeJson, type Checkpoint, type Manifest, type Tally, type TopicNames } from "@zeroloss/wire";
import { CompressionTypes, type Kafka, type Message, type Producer, type Transaction } from "kafkajs";
import type { Logger } from "pino";
import type { BuiltManifest } from "./manifest.js";
import { noteRun, type WindowTally } from "./emitted-tallies.js";
import { controlSends, PARTITION_BATCH_LIMIT, PARTITION_BYTES, REQUEST_BYTES } from "./send-sizes.js";
import type { ProducerMetrics } from "./metrics.js";

export interface WriterOptions {
  readonly transactionalId: string;
  readonly transactionTimeoutMs: number;
  readonly topics: TopicNames;
  readonly windowSize: number;
  /** Partition count of every topic written to. */
  readonly partitions: ReadonlyMap<string, number>;
  readonly log: Logger;
  readonly metrics: ProducerMetrics;
  /** producer.before-kafka-commit and producer.after-kafka-commit (fault injection; Failpoints.none in production). */
  readonly failpoints: Failpoints;
}

/** Buffered records of one topic by partition, and their sizes. */
interface TopicBatch {
  readonly messages: Map<number, Message[]>;
  /** Per partition, the rows of each message, in order. */
  readonly rows: Map<number, number[]>;
  readonly bytes: Map<number, number>;
}
type Pending = Map<string, TopicBatch>;

export interface DataRecord {
  readonly topic: string;
  readonly key: string | null;
  readonly value: Buffer;
  /** Forced partition (truncate markers go to every partition); else from the key. */
  readonly partition?: number;
  /** The rows it holds (a bulk snapshot record's rows.count); absent: one. The emitted tallies count them. */
  readonly rows?: number;
}

/** One transactional producer and the transaction open on it. */
interface Lane {
  readonly producer: Producer;
  readonly transactionalId: string;
  txn: Transaction | null;
  /** Whether the open transaction has sent anything (an unused one aborts without a trace). */
  sent: boolean;
  /** The lane's transaction being committed, if any: the lane's next transaction sends after it. */
  finishing: Promise<void> | null;
  /** Emitted tallies of the lane's open transaction, from the offsets its sends received. */
  tallies: Map<string, WindowTally>;
}

export class KafkaWriter {
  private readonly lanes: readonly [Lane, Lane];
  /** The lane of the open transaction. */
  private lane: Lane;
  private txnStarted = 0;
  private pending: Pending = new Map();
  private readonly partitions: Map<string, number>;
  private pendingBytes = 0;
  /** The send in flight, if any; it rejects with the send's failure, which the next await surfaces. */
  private inFlight: Promise<void> | null = null;
  /** The commit in flight, if any (on the other lane than the open transaction's). */
  private committing: Promise<void> | null = null;
  /** Set by abort(): nothing more is added, sent or committed. */
  private closed = false;
  /** Records in the open Kafka transaction (sent or not). */
  recordsInTransaction = 0;

  constructor(kafka: Kafka, private readonly options: WriterOptions) {
    const lane = (transactionalId: string): Lane => ({ producer: this.createProducer(kafka, transactionalId), transactionalId, txn: null, sent: false, finishing: null, tallies: new Map() });
    this.lanes = [lane(options.transactionalId), lane(`${options.transactionalId}-1`)];
    this.lane = this.lanes[0];
    this.partitions = new Map(options.partitions);
  }

  private createProducer(kafka: Kafka, transactionalId: string): Producer {
    return kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: this.options.transactionTimeoutMs,
      allowAutoTopicCreation: false,
      // A new transaction's first AddPartitionsToTxn often meets CONCURRENT_TRANSACTIONS while the
      // broker still writes the previous commit's markers (milliseconds): a short first backoff,
      // as the Java client uses, instead of 300 ms that cost up to a fifth of the throughput.
      retry: { retries: 10, initialRetryTime: 20, maxRetryTime: 5_000 },
    });
  }

  /**
   * Connects both lanes, fencing any earlier producer with the same transactional ids: an
   * open transaction of theirs is aborted, a commit they had requested is completed. Only
   * then may the last checkpoint be read.
   */
  async connect(): Promise<void> {
    for (const lane of this.lanes) {
      try {
        await lane.producer.connect();
        // kafkajs sends InitProducerId with the transactional id (the fencing) on the first
        // transaction(), not on connect(): begin one now. It stays client-side until its
        // first send, and is the lane's first transaction.
        lane.txn = await lane.producer.transaction();
      } catch (err) {
        throw kafkaError(err, `connecting the transactional Kafka producer ${lane.transactionalId}`);
      }
    }
  }

  async disconnect(): Promise<void> {
    for (const lane of this.lanes) await lane.producer.disconnect();
  }

  /** Records are in the open transaction, or sent, or being committed. */
  get open(): boolean {
    return this.recordsInTransaction > 0 || this.inFlight !== null || this.committing !== null;
  }

  /** Milliseconds since the open transaction's first record (0 when none is open). */
  get age(): number {
    return this.recordsInTransaction > 0 ? Date.now() - this.txnStarted : 0;
  }

  /** Topics created after the start (a table added while streaming), with their partition counts. */
  addTopics(partitions: ReadonlyMap<string, number>): void {
    for (const [topic, n] of partitions) this.partitions.set(topic, n);
  }

  partitionCount(topic: string): number {
    const n = this.partitions.get(topic);
    if (n === undefined) throw new ZerolossError("TOPIC_UNKNOWN", `no partition count known for topic ${topic}`);
    return n;
  }

  partitionOf(topic: string, key: string | null): number {
    const n = this.partitionCount(topic);
    return key === null ? 0 : partitionForKey(key, n);
  }

  private checkOpen(what: string): void {
    if (this.closed) throw new ZerolossError("KAFKA_WRITER_CLOSED", `${what} after the Kafka writer was aborted`);
  }

  /** Buffers a record in the open transaction, sending when the buffer is large; the partition it goes to. */
  async add(record: DataRecord): Promise<number> {
    this.checkOpen("a record added");
    if (this.recordsInTransaction === 0) this.txnStarted = Date.now();
    const partition = record.partition ?? this.partitionOf(record.topic, record.key);
    const size = record.value.length + (record.key === null ? 0 : Buffer.byteLength(record.key)) + 32;
    // A large record (a bulk snapshot record) must not take its partition's batch past the limit.
    if ((this.pending.get(record.topic)?.bytes.get(partition) ?? 0) + size > PARTITION_BATCH_LIMIT) await this.startSend();
    let batch = this.pending.get(record.topic);
    if (batch === undefined) {
      batch = { messages: new Map(), rows: new Map(), bytes: new Map() };
      this.pending.set(record.topic, batch);
    }
    let list = batch.messages.get(partition);
    let rows = batch.rows.get(partition);
    if (list === undefined || rows === undefined) {
      list = [];
      rows = [];
      batch.messages.set(partition, list);
      batch.rows.set(partition, rows);
    }
    list.push({ key: record.key, value: record.value, partition });
    rows.push(record.rows ?? 1);
    this.pendingBytes += size;
    const partitionBytes = (batch.bytes.get(partition) ?? 0) + size;
    batch.bytes.set(partition, partitionBytes);
    this.recordsInTransaction++;
    if (partitionBytes >= PARTITION_BYTES || this.pendingBytes >= REQUEST_BYTES) await this.startSend();
    return partition;
  }

  /**
   * Waits for the send in flight (at most one) and for the lane's previous transaction to
   * be committed, then starts sending what is buffered.
   */
  private async startSend(): Promise<void> {
    await this.awaitInFlight();
    const finishing = this.lane.finishing;
    if (finishing !== null) await finishing;
    this.checkOpen("a send");
    if (this.pending.size === 0) return;
    const send = this.send(this.lane, this.takePending());
    // Observed here so a failure is never unhandled; awaitInFlight() rethrows it.
    send.catch(() => undefined);
    this.inFlight = send;
  }

  /** Waits for the send in flight; throws its failure. */
  private async awaitInFlight(): Promise<void> {
    const inFlight = this.inFlight;
    if (inFlight === null) return;
    try {
      await inFlight;
    } finally {
      this.inFlight = null;
    }
  }

  private takePending(): Pending {
    const batches = this.pending;
    this.pending = new Map();
    this.pendingBytes = 0;
    return batches;
  }

  private async begin(lane: Lane): Promise<Transaction> {
    if (lane.txn !== null) return lane.txn;
    try {
      lane.txn = await lane.producer.transaction();
    } catch (err) {
      throw kafkaError(err, `beginning a Kafka transaction on ${lane.transactionalId}`);
    }
    return lane.txn;
  }

  /** Sends records inside the open transaction and notes their offsets. */
  private async send(lane: Lane, batches: Pending): Promise<void> {
    const txn = await this.begin(lane);
    lane.sent = true;
    const topicMessages = [...batches].map(([topic, batch]) => ({ topic, messages: [...batch.messages.values()].flat() }));
    let metadata;
    try {
      metadata = await txn.sendBatch({ topicMessages, acks: -1, compression: CompressionTypes.None });
    } catch (err) {
      throw kafkaError(err, `sending ${topicMessages.reduce((n, t) => n + t.messages.length, 0)} records to Kafka`);
    }
    for (const m of metadata) {
      const rows = batches.get(m.topicName)?.rows.get(m.partition) ?? [];
      if (rows.length === 0 || m.baseOffset === undefined) continue;
      noteRun(lane.tallies, m.topicName, m.partition, Number(m.baseOffset), rows, this.options.windowSize);
    }
  }

  /** Each manifest with its bounds: per partition its records went to, the offset after this Kafka transaction's last record there. */
  private withBounds(manifests: readonly BuiltManifest[], tallies: ReadonlyMap<string, WindowTally>): Manifest[] {
    const ends = new Map<string, number>();
    for (const t of tallies.values()) {
      const k = `${t.topic}:${t.partition}`;
      ends.set(k, Math.max(ends.get(k) ?? 0, t.lastOffset + 1));
    }
    return manifests.map(({ manifest, partitions }) => {
      const bounds: Record<string, number> = {};
      for (const tp of [...partitions].sort()) {
        const end = ends.get(tp);
        if (end !== undefined) bounds[tp] = end;
      }
      return { ...manifest, bounds };
    });
  }

  /**
   * Sends what is buffered, then the manifests, the emitted tallies and the checkpoint,
   * and commits. Only after this resolves may the slot be acknowledged up to the
   * checkpoint's LSN. The transaction is closed at the call: records added while the commit
   * is in flight belong to the next one, on the other lane. Commits land in call order.
   */
  async commit(manifests: readonly BuiltManifest[], checkpoint: Checkpoint): Promise<void> {
    this.checkOpen("a commit");
    const started = this.txnStarted;
    const hadRecords = this.recordsInTransaction > 0;
    const lane = this.lane;
    const rest = this.takePending();
    const lastSend = this.inFlight;
    const laneFree = lane.finishing;
    // This transaction's remaining records: sent after its send in flight (and after the
    // lane's previous transaction, when commits are queued back to back), and before any
    // record of the next transaction, whose first send waits for this as the send in flight.
    const dataSent = (async () => {
      if (laneFree !== null) await laneFree;
      if (lastSend !== null) await lastSend;
      if (rest.size > 0) {
        this.checkOpen("a send");
        await this.send(lane, rest);
      }
    })();
    const clear = (): void => {
      if (this.inFlight === dataSent) this.inFlight = null;
    };
    dataSent.then(clear, clear); // a failure is observed by finishTransaction (and awaitInFlight(), if first)
    this.inFlight = dataSent;
    this.recordsInTransaction = 0;
    this.lane = lane === this.lanes[0] ? this.lanes[1] : this.lanes[0];
    const work = this.finishTransaction(lane, dataSent, this.committing, manifests, checkpoint);
    this.committing = work;
    lane.finishing = work;
    const free = (): void => {
      if (lane.finishing === work) lane.finishing = null;
    };
    work.then(free, free); // a failure is the commit's, awaited below
    try {
      await work;
    } finally {
      if (this.committing === work) this.committing = null;
    }
    this.options.metrics.kafkaTransactions.inc({ result: "committed" });
    if (hadRecords) this.options.metrics.produceSeconds.observe((Date.now() - started) / 1000);
  }

  private async finishTransaction(
    lane: Lane,
    dataSent: Promise<void>,
    previousCommit: Promise<void> | null,
    built: readonly BuiltManifest[],
    checkpoint: Checkpoint,
  ): Promise<void> {
    try {
      await dataSent;
      // Before this transaction's checkpoint is written, the previous one's has landed (or
      // its failure fails this commit too).
      if (previousCommit !== null) await previousCommit;
      this.checkOpen("a commit");
    } catch (err) {
      lane.tallies = new Map();
      throw err;
    }
    const txn = await this.begin(lane);
    const { topics } = this.options;
    const manifests = this.withBounds(built, lane.tallies);
    // In offset order per partition (the counter's proofs read a partition's tallies in order).
    const runs = [...lane.tallies.values()].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition || a.firstOffset - b.firstOffset));
    const tallies: Tally[] = runs.map((t) => ({
      v: 1,
      stage: "emitted",
      topic: t.topic,
      partition: t.partition,
      windowStart: t.windowStart,
      windowSize: this.options.windowSize,
      count: t.count,
      rows: t.rows,
      firstOffset: t.firstOffset,
      lastOffset: t.lastOffset,
    }));
    const control = [
      ...manifests.map((m) => ({ topic: topics.manifests, key: m.db, value: encodeJson(m) })),
      ...tallies.map((t) => ({ topic: topics.tallies, key: `${t.topic}:${t.partition}`, value: encodeJson(t) })),
      { topic: topics.checkpoints, key: checkpoint.slot, value: encodeJson(checkpoint) },
    ];
    lane.sent = true;
    try {
      for (const topicMessages of controlSends(control)) await txn.sendBatch({ topicMessages, acks: -1 });
      await this.options.failpoints.hit("producer.before-kafka-commit");
      await txn.commit();
      await this.options.failpoints.hit("producer.after-kafka-commit");
    } catch (err) {
      throw kafkaError(err, "committing a Kafka transaction");
    } finally {
      lane.txn = null;
      lane.sent = false;
      lane.tallies = new Map();
    }
  }

  /** Aborts the open transaction, if any; its records are never visible to read_committed readers. */
  async abort(): Promise<void> {
    this.closed = true;
    const inFlight = this.inFlight;
    this.inFlight = null;
    if (inFlight !== null) {
      // Let the send finish or fail before aborting under it; its records are aborted with the transaction.
      await inFlight.catch((err: unknown) => this.options.log.warn({ err: kafkaError(err, "sending records before an abort") }, "a send in flight failed; its transaction is being aborted"));
    }
    const committing = this.committing;
    if (committing !== null) {
      // A commit either lands (its checkpoint covers its records) or fails; a transaction whose
      // commit failed is fenced, and so aborted, by the next connect.
      await committing.catch((err: unknown) => this.options.log.warn({ err }, "a commit in flight failed; its transaction is being aborted"));
    }
    this.pending = new Map();
    this.pendingBytes = 0;
    this.recordsInTransaction = 0;
    for (const lane of this.lanes) {
      const txn = lane.txn;
      const sent = lane.sent;
      lane.txn = null;
      lane.sent = false;
      lane.tallies = new Map();
      if (txn === null) continue;
      try {
        await txn.abort();
        if (sent) this.options.metrics.kafkaTransactions.inc({ result: "aborted" });
      } catch (err) {
        // The broker aborts it anyway when the next producer with this id fences this one.
        this.options.log.warn({ err: kafkaError(err, `aborting a Kafka transaction on ${lane.transactionalId}`) }, "abort failed; the next connect fences it");
      }
    }
  }
}
