// One open Kafka transaction at a time, holding whole source transactions (or snapshot
// chunks) and, last, the checkpoint of the source position they reach. Records are sent
// in bounded batches while the transaction is open, so a large source transaction never
// sits in memory whole; nothing is visible to read_committed readers until commit().
//
// One send may be in flight while the next batch fills, and one commit while the next
// transaction's records are buffered: decoding and encoding go on during the round trips
// to the broker. Requests still go one after the other (the idempotent producer allows one
// in flight; the next transaction's first send waits for the commit), so the order of
// records within a partition is kept and no record joins a transaction it was not added to.
//
// Partitions are chosen here (Kafka's murmur2 on the key, packages/kafka/src/partition.ts),
// not by the client, so the offsets each record received are known and emitted tallies count
// records per (topic, partition, offset window): transaction markers take offsets too,
// and offset differences would miscount.
import { ZerolossError } from "@zeroloss/errors";
import { kafkaError, partitionForKey } from "@zeroloss/kafka";
import { encodeJson, type Checkpoint, type Manifest, type Tally, type TopicNames } from "@zeroloss/wire";
import { CompressionTypes, type Kafka, type Message, type Producer, type Transaction } from "kafkajs";
import type { Logger } from "pino";
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
}

/**
 * The broker refuses a partition's record batch over message.max.bytes (1 MiB by default):
 * send before any partition's buffer reaches PARTITION_BYTES. A request may carry many
 * partitions; REQUEST_BYTES bounds memory. Larger requests mean fewer round trips, which
 * is most of the producer's waiting (bench/README.md, "Producer").
 */
const PARTITION_BYTES = 900 * 1024;
const REQUEST_BYTES = 8 * 1024 * 1024;

interface WindowTally {
  topic: string;
  partition: number;
  windowStart: number;
  count: number;
  firstOffset: number;
  lastOffset: number;
}

export interface DataRecord {
  readonly topic: string;
  readonly key: string | null;
  readonly value: Buffer;
  /** Forced partition (truncate markers go to every partition); else from the key. */
  readonly partition?: number;
}

export class KafkaWriter {
  private readonly producer: Producer;
  private txn: Transaction | null = null;
  private txnStarted = 0;
  private pending = new Map<string, Map<number, Message[]>>();
  private pendingBytes = 0;
  private pendingPartitionBytes = new Map<string, number>();
  private tallies = new Map<string, WindowTally>();
  /** The send in flight, if any; it rejects with the send's failure, which the next await surfaces. */
  private inFlight: Promise<void> | null = null;
  /** The commit in flight, if any: the next transaction sends nothing before it is done. */
  private committing: Promise<void> | null = null;
  /** Records in the open Kafka transaction (sent or not). */
  recordsInTransaction = 0;

  constructor(kafka: Kafka, private readonly options: WriterOptions) {
    this.producer = kafka.producer({
      transactionalId: options.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: options.transactionTimeoutMs,
      allowAutoTopicCreation: false,
      // A new transaction's first AddPartitionsToTxn often meets CONCURRENT_TRANSACTIONS while the
      // broker still writes the previous commit's markers (milliseconds): a short first backoff,
      // as the Java client uses, instead of 300 ms that cost up to a fifth of the throughput.
      retry: { retries: 10, initialRetryTime: 20, maxRetryTime: 5_000 },
    });
  }

  /** Connects and fences any earlier producer with the same transactional id (its open transaction is aborted). */
  async connect(): Promise<void> {
    try {
      await this.producer.connect();
    } catch (err) {
      throw kafkaError(err, "connecting the transactional Kafka producer");
    }
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }

  /** A transaction is open, or being committed. */
  get open(): boolean {
    return this.txn !== null || this.recordsInTransaction > 0 || this.committing !== null;
  }

  /** Milliseconds since the open transaction's first record (0 when none is open). */
  get age(): number {
    return this.recordsInTransaction > 0 ? Date.now() - this.txnStarted : 0;
  }

  partitionCount(topic: string): number {
    const n = this.options.partitions.get(topic);
    if (n === undefined) throw new ZerolossError("TOPIC_UNKNOWN", `no partition count known for topic ${topic}`);
    return n;
  }

  partitionOf(topic: string, key: string | null): number {
    const n = this.partitionCount(topic);
    return key === null ? 0 : partitionForKey(key, n);
  }

  /** Buffers a record in the open transaction; sends when the buffer is large. */
  async add(record: DataRecord): Promise<void> {
    if (this.recordsInTransaction === 0) this.txnStarted = Date.now();
    const partition = record.partition ?? this.partitionOf(record.topic, record.key);
    let byPartition = this.pending.get(record.topic);
    if (byPartition === undefined) {
      byPartition = new Map();
      this.pending.set(record.topic, byPartition);
    }
    let list = byPartition.get(partition);
    if (list === undefined) {
      list = [];
      byPartition.set(partition, list);
    }
    list.push({ key: record.key, value: record.value, partition });
    const size = record.value.length + (record.key === null ? 0 : Buffer.byteLength(record.key)) + 32;
    this.pendingBytes += size;
    const pk = `${record.topic}\u0000${partition}`;
    const partitionBytes = (this.pendingPartitionBytes.get(pk) ?? 0) + size;
    this.pendingPartitionBytes.set(pk, partitionBytes);
    this.recordsInTransaction++;
    if (partitionBytes >= PARTITION_BYTES || this.pendingBytes >= REQUEST_BYTES) await this.startSend();
  }

  /** Waits for the send and the commit in flight, then starts sending what is buffered. */
  private async startSend(): Promise<void> {
    await this.settle();
    if (this.committing !== null) await this.committing;
    if (this.pending.size === 0) return;
    const send = this.send(this.takePending());
    // Observed here so a failure is never unhandled; settle() rethrows it.
    send.catch(() => undefined);
    this.inFlight = send;
  }

  /** Waits for the send in flight; throws its failure. */
  private async settle(): Promise<void> {
    const inFlight = this.inFlight;
    if (inFlight === null) return;
    try {
      await inFlight;
    } finally {
      this.inFlight = null;
    }
  }

  private takePending(): Map<string, Map<number, Message[]>> {
    const batches = this.pending;
    this.pending = new Map();
    this.pendingBytes = 0;
    this.pendingPartitionBytes = new Map();
    return batches;
  }

  private async begin(): Promise<Transaction> {
    if (this.txn !== null) return this.txn;
    try {
      this.txn = await this.producer.transaction();
    } catch (err) {
      throw kafkaError(err, "beginning a Kafka transaction");
    }
    return this.txn;
  }

  /** Sends records inside the open transaction and notes their offsets. */
  private async send(batches: Map<string, Map<number, Message[]>>): Promise<void> {
    const txn = await this.begin();
    const topicMessages = [...batches].map(([topic, byPartition]) => ({ topic, messages: [...byPartition.values()].flat() }));
    let metadata;
    try {
      metadata = await txn.sendBatch({ topicMessages, acks: -1, compression: CompressionTypes.None });
    } catch (err) {
      throw kafkaError(err, `sending ${topicMessages.reduce((n, t) => n + t.messages.length, 0)} records to Kafka`);
    }
    for (const m of metadata) {
      const count = batches.get(m.topicName)?.get(m.partition)?.length ?? 0;
      if (count === 0 || m.baseOffset === undefined) continue;
      const base = Number(m.baseOffset);
      this.noteOffsets(m.topicName, m.partition, base, count);
    }
  }

  private noteOffsets(topic: string, partition: number, base: number, count: number): void {
    const size = this.options.windowSize;
    let offset = base;
    const end = base + count; // exclusive
    while (offset < end) {
      const windowStart = Math.floor(offset / size) * size;
      const upto = Math.min(end, windowStart + size);
      const k = `${topic}\u0000${partition}\u0000${windowStart}`;
      const t = this.tallies.get(k);
      if (t === undefined) {
        this.tallies.set(k, { topic, partition, windowStart, count: upto - offset, firstOffset: offset, lastOffset: upto - 1 });
      } else {
        t.count += upto - offset;
        t.lastOffset = upto - 1;
      }
      offset = upto;
    }
  }

  /**
   * Sends what is buffered, then the manifests, the emitted tallies and the checkpoint,
   * and commits. Only after this resolves may the slot be acknowledged up to the
   * checkpoint's LSN. The transaction is closed at the call: records added while the commit
   * is in flight belong to the next one. One commit at a time: the caller awaits the
   * previous one before calling again.
   */
  async commit(manifests: readonly Manifest[], checkpoint: Checkpoint): Promise<void> {
    if (this.committing !== null) throw new ZerolossError("INTERNAL", "a Kafka commit was started while another was in flight");
    const started = this.txnStarted;
    const hadRecords = this.recordsInTransaction > 0;
    const rest = this.takePending();
    this.recordsInTransaction = 0;
    const work = this.finishTransaction(rest, manifests, checkpoint);
    this.committing = work;
    try {
      await work;
    } finally {
      this.committing = null;
    }
    this.options.metrics.kafkaTransactions.inc({ result: "committed" });
    if (hadRecords) this.options.metrics.produceSeconds.observe((Date.now() - started) / 1000);
  }

  private async finishTransaction(rest: Map<string, Map<number, Message[]>>, manifests: readonly Manifest[], checkpoint: Checkpoint): Promise<void> {
    await this.settle();
    if (rest.size > 0) await this.send(rest);
    const txn = await this.begin();
    const { topics } = this.options;
    const tallies: Tally[] = [...this.tallies.values()].map((t) => ({
      v: 1,
      stage: "emitted",
      topic: t.topic,
      partition: t.partition,
      windowStart: t.windowStart,
      windowSize: this.options.windowSize,
      count: t.count,
      firstOffset: t.firstOffset,
      lastOffset: t.lastOffset,
    }));
    const topicMessages = [
      { topic: topics.manifests, messages: manifests.map((m) => ({ key: m.db, value: encodeJson(m), partition: 0 })) },
      { topic: topics.tallies, messages: tallies.map((t) => ({ key: `${t.topic}:${t.partition}`, value: encodeJson(t), partition: 0 })) },
      { topic: topics.checkpoints, messages: [{ key: checkpoint.slot, value: encodeJson(checkpoint), partition: 0 }] },
    ].filter((t) => t.messages.length > 0);
    try {
      await txn.sendBatch({ topicMessages, acks: -1 });
      await txn.commit();
    } catch (err) {
      throw kafkaError(err, "committing a Kafka transaction");
    } finally {
      this.txn = null;
      this.tallies = new Map();
    }
  }

  /** Aborts the open transaction, if any; its records are never visible to read_committed readers. */
  async abort(): Promise<void> {
    const inFlight = this.inFlight;
    this.inFlight = null;
    if (inFlight !== null) {
      // Let the send finish or fail before aborting under it; its records are aborted with the transaction.
      await inFlight.catch((err: unknown) => this.options.log.warn({ err: kafkaError(err, "sending records before an abort") }, "a send in flight failed; its transaction is being aborted"));
    }
    const committing = this.committing;
    if (committing !== null) {
      // A commit either lands (its checkpoint covers its records) or fails and is aborted here.
      await committing.catch((err: unknown) => this.options.log.warn({ err }, "a commit in flight failed; its transaction is being aborted"));
    }
    const txn = this.txn;
    this.txn = null;
    this.pending = new Map();
    this.pendingBytes = 0;
    this.pendingPartitionBytes = new Map();
    this.tallies = new Map();
    this.recordsInTransaction = 0;
    if (txn === null) return;
    try {
      await txn.abort();
      this.options.metrics.kafkaTransactions.inc({ result: "aborted" });
    } catch (err) {
      // The broker aborts it anyway when the next producer with this id fences this one.
      this.options.log.warn({ err: kafkaError(err, "aborting a Kafka transaction") }, "abort failed; the next connect fences it");
    }
  }
}
