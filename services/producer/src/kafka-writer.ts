// One open Kafka transaction at a time, holding whole source transactions (or snapshot
// chunks) and, last, the checkpoint of the source position they reach. Records are sent
// in bounded batches while the transaction is open, so a large source transaction never
// sits in memory whole; nothing is visible to read_committed readers until commit().
//
// The kafkajs producer itself runs on a worker thread (kafka-worker.ts): while it encodes
// and sends one batch, this thread decodes and builds the next. Up to MAX_IN_FLIGHT
// batches may be on their way; commit() waits for every one of them to be acknowledged
// (acks=all) before the checkpoint goes out, and any failure fails the commit.
//
// Partitions are chosen here (kafkajs's Java-compatible murmur2 on the key), not by the
// client, so the offsets each record received are known and emitted tallies count
// records per (topic, partition, offset window): transaction markers take offsets too,
// and offset differences would miscount.
import { Worker } from "node:worker_threads";
import { ZerolossError } from "@zeroloss/errors";
import { encodeJson, type Checkpoint, type Manifest, type Tally, type TopicNames } from "@zeroloss/wire";
import { Partitioners } from "kafkajs";
import type { Logger } from "pino";
import type { SentPartition, WireBatch, WorkerConfig, WorkerReply, WorkerRequest } from "./kafka-worker-protocol.js";
import type { ProducerMetrics } from "./metrics.js";

export interface WriterOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly logLevel: WorkerConfig["logLevel"];
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
const MAX_IN_FLIGHT = 2;

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

interface Pending {
  readonly key: string | null;
  readonly value: Buffer;
  readonly partition: number;
}

/** Packs records into one buffer to transfer to the worker. */
function pack(byTopic: ReadonlyMap<string, readonly Pending[]>): { batch: WireBatch; transfer: ArrayBuffer[] } {
  let size = 0;
  for (const list of byTopic.values()) for (const m of list) size += m.value.length;
  const data = new ArrayBuffer(size);
  const view = new Uint8Array(data);
  let at = 0;
  const topics = [...byTopic].map(([topic, list]) => {
    const keys: (string | null)[] = [];
    const partitions: number[] = [];
    const lengths: number[] = [];
    for (const m of list) {
      view.set(m.value, at);
      at += m.value.length;
      keys.push(m.key);
      partitions.push(m.partition);
      lengths.push(m.value.length);
    }
    return { topic, keys, partitions, lengths };
  });
  return { batch: { topics, data }, transfer: [data] };
}

export class KafkaWriter {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: SentPartition[] | null) => void; reject: (e: ZerolossError) => void }>();
  private workerFailure: ZerolossError | null = null;
  private inFlight: Promise<void>[] = [];
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private readonly fakeMetadata = new Map<number, { partitionId: number; leader: number; replicas: number[]; isr: number[]; partitionErrorCode: number }[]>();
  private txnStarted = 0;
  private pending = new Map<string, Map<number, Pending[]>>();
  private pendingBytes = 0;
  private pendingPartitionBytes = new Map<string, number>();
  private tallies = new Map<string, WindowTally>();
  /** Records in the open Kafka transaction (sent or not). */
  recordsInTransaction = 0;

  constructor(private readonly options: WriterOptions) {
    const config: WorkerConfig = {
      brokers: options.brokers,
      clientId: options.clientId,
      transactionalId: options.transactionalId,
      transactionTimeoutMs: options.transactionTimeoutMs,
      logLevel: options.logLevel,
    };
    this.worker = new Worker(new URL("./kafka-worker.js", import.meta.url), { workerData: config });
    this.worker.on("message", (reply: WorkerReply) => {
      const w = this.waiting.get(reply.id);
      if (w === undefined) return;
      this.waiting.delete(reply.id);
      if (reply.ok) w.resolve(reply.result);
      else w.reject(new ZerolossError(reply.error.code, reply.error.message, { retriable: reply.error.retriable }));
    });
    const dead = (why: string, cause?: unknown) => {
      this.workerFailure = new ZerolossError("KAFKA_WORKER_FAILED", `the Kafka client thread ${why}`, { retriable: true, cause });
      for (const w of this.waiting.values()) w.reject(this.workerFailure);
      this.waiting.clear();
    };
    this.worker.on("error", (err) => dead(`failed: ${err.message}`, err));
    this.worker.on("exit", (code) => dead(`exited with code ${code}`));
  }

  private call(
    request: { readonly op: "connect" | "abort" | "disconnect" } | { readonly op: "send" | "commit"; readonly batch: WireBatch },
    transfer: ArrayBuffer[] = [],
  ): Promise<SentPartition[] | null> {
    if (this.workerFailure !== null) return Promise.reject(this.workerFailure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ ...request, id } as WorkerRequest, transfer);
    });
  }

  /** Connects and fences any earlier producer with the same transactional id (its open transaction is aborted). */
  async connect(): Promise<void> {
    await this.call({ op: "connect" });
  }

  async disconnect(): Promise<void> {
    if (this.workerFailure === null) await this.call({ op: "disconnect" });
    await this.worker.terminate();
  }

  get open(): boolean {
    return this.recordsInTransaction > 0 || this.inFlight.length > 0;
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
    if (key === null) return 0;
    let metadata = this.fakeMetadata.get(n);
    if (metadata === undefined) {
      metadata = Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
      this.fakeMetadata.set(n, metadata);
    }
    return this.partitioner({ topic, partitionMetadata: metadata, message: { key, value: null } });
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
    const size = record.value.length + (record.key?.length ?? 0) + 32;
    this.pendingBytes += size;
    const pk = `${record.topic}\u0000${partition}`;
    const partitionBytes = (this.pendingPartitionBytes.get(pk) ?? 0) + size;
    this.pendingPartitionBytes.set(pk, partitionBytes);
    this.recordsInTransaction++;
    if (partitionBytes >= PARTITION_BYTES || this.pendingBytes >= REQUEST_BYTES) await this.sendPending();
  }

  /**
   * Hands the buffered records to the Kafka thread inside the open transaction. Returns
   * once fewer than MAX_IN_FLIGHT batches are on their way; their acknowledgements (and
   * failures) are collected by commit().
   */
  async sendPending(): Promise<void> {
    if (this.pending.size === 0) return;
    const batches = this.pending;
    this.pending = new Map();
    this.pendingBytes = 0;
    this.pendingPartitionBytes = new Map();
    const byTopic = new Map([...batches].map(([topic, byPartition]) => [topic, [...byPartition.values()].flat()]));
    const { batch, transfer } = pack(byTopic);
    const sent = this.call({ op: "send", batch }, transfer).then((metadata) => {
      for (const m of metadata ?? []) {
        const count = batches.get(m.topic)?.get(m.partition)?.length ?? 0;
        if (count === 0 || m.baseOffset === null) continue;
        this.noteOffsets(m.topic, m.partition, Number(m.baseOffset), count);
      }
    });
    // Awaited in order below or by commit()/abort(); this handler only keeps Node from
    // reporting the rejection before then (the error is not dropped: awaiting `sent` throws it).
    sent.catch(() => undefined);
    this.inFlight.push(sent);
    while (this.inFlight.length >= MAX_IN_FLIGHT) await this.inFlight.shift();
  }

  private async drain(): Promise<void> {
    while (this.inFlight.length > 0) await this.inFlight.shift();
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
   * checkpoint's LSN.
   */
  async commit(manifests: readonly Manifest[], checkpoint: Checkpoint): Promise<void> {
    const started = this.txnStarted;
    const hadRecords = this.recordsInTransaction > 0;
    try {
      await this.sendPending();
      await this.drain();
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
      const control = new Map<string, Pending[]>([
        [topics.manifests, manifests.map((m) => ({ key: m.db, value: encodeJson(m), partition: 0 }))],
        [topics.tallies, tallies.map((t) => ({ key: `${t.topic}:${t.partition}`, value: encodeJson(t), partition: 0 }))],
        [topics.checkpoints, [{ key: checkpoint.slot, value: encodeJson(checkpoint), partition: 0 }]],
      ]);
      const { batch, transfer } = pack(control);
      await this.call({ op: "commit", batch }, transfer);
    } finally {
      this.inFlight = [];
      this.tallies = new Map();
      this.recordsInTransaction = 0;
    }
    this.options.metrics.kafkaTransactions.inc({ result: "committed" });
    if (hadRecords) this.options.metrics.produceSeconds.observe((Date.now() - started) / 1000);
  }

  /** Aborts the open transaction, if any; its records are never visible to read_committed readers. */
  async abort(): Promise<void> {
    const outstanding = this.inFlight;
    const hadOpen = this.recordsInTransaction > 0 || outstanding.length > 0;
    this.inFlight = [];
    this.pending = new Map();
    this.pendingBytes = 0;
    this.pendingPartitionBytes = new Map();
    this.tallies = new Map();
    this.recordsInTransaction = 0;
    // Sends still on their way are moot: the transaction is abandoned either way.
    await Promise.allSettled(outstanding);
    if (this.workerFailure !== null) return;
    try {
      await this.call({ op: "abort" });
      if (hadOpen) this.options.metrics.kafkaTransactions.inc({ result: "aborted" });
    } catch (err) {
      // The broker aborts it anyway when the next producer with this id fences this one.
      this.options.log.warn({ err: (err as Error).message }, "abort failed; the next connect fences it");
    }
  }
}
