// The counter's life: a Kafka consumer group (read_committed) over the data topics of the
// prefix, the tallies, manifests and checkpoints topics. The partition batches of a fetch become
// one ledger transaction (DatabaseGroupCommit; deltas.ts → ledger.ts) together with the counter's
// positions in those partitions; Kafka offsets are committed afterwards only as a hint. The
// ledger's position is the truth: on joining the group every assigned partition is read from
// it, records below it are skipped, and a fetch that still starts above it seeks back once
// (a fetch may rightly start above it: commit markers and retention take offsets too), so
// nothing is counted twice or missed.
//
// A refresh tick (ledger-refresh.ts) marks transactions applied and sets the metrics from the ledger.
import { AvroRegistry } from "@zeroloss/avro";
import type { Config } from "@zeroloss/config";
import { backoff, describeError, ZerolossError } from "@zeroloss/errors";
import { createKafka, DatabaseGroupCommit, GroupService, kafkaError, waitWithHeartbeat } from "@zeroloss/kafka";
import { ErrorRecord, type Health } from "@zeroloss/observability";
import { connect, inTransaction, serviceError, type Client } from "@zeroloss/pg";
import { rowsOfRecord, topicNames, type TopicNames } from "@zeroloss/wire";
import type { EachBatchPayload, Kafka, KafkaMessage } from "kafkajs";
import type { Logger } from "pino";
import { addDataRecords, addManifestRecords, addTallyRecords, emptyDeltas } from "./deltas.js";
import { ensureLedger, storedPositions, writeBatch, type PositionWrite } from "./ledger.js";
import type { CounterMetrics } from "./metrics.js";
import type { SlotState } from "@zeroloss/wire";
import { LedgerRefresh } from "./ledger-refresh.js";
import { SlotWatch } from "./slot-watch.js";
import { addCheckpointRecords } from "./snapshots.js";

export interface CounterOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly metrics: CounterMetrics;
}

/**
 * Partition batches in hand at once: enough for every partition of a fetch, so its batches
 * share one ledger transaction. With 6, a pipeline of 30 partitions took five linger-and-write
 * rounds per fetch, and the counter read the snapshot's table at a fifth of its rate
 * (bench/README.md, "Counter lag").
 */
const CONCURRENT_BATCHES = 256;

/**
 * Fetch sizes: the counter only counts, so it takes larger bites than kafkajs's default 1 MiB
 * per partition: fewer round trips and ledger transactions per record. Not much larger: the
 * written tallies wait for the ledger transaction in hand (8 MiB: up to 5.1 s behind the
 * consumer in bench:counter's snapshot phase; 4 MiB: 2.1 s).
 */
const FETCH = { maxBytesPerPartition: 4 * 1024 * 1024, maxBytes: 32 * 1024 * 1024 } as const;

/** A fetched partition batch to count. */
interface Counted {
  readonly topic: string;
  readonly partition: number;
  readonly kind: "data" | "tallies" | "manifests" | "checkpoints";
  readonly first: bigint;
  /** The offset after the batch. */
  readonly next: bigint;
  readonly highWatermark: bigint | null;
  readonly messages: readonly KafkaMessage[];
  readonly live: () => boolean;
}

interface CountOutcome {
  /** Set when the batch was not counted: the fetch started past the ledger, which is here. */
  readonly seekTo: bigint | null;
  readonly records: number;
  readonly rejected: readonly { offset: string; reason: string }[];
}

export class Counter {
  private readonly log: Logger;
  private readonly topics: TopicNames;
  private readonly kafka: Kafka;
  private readonly svc: GroupService;
  private readonly slotWatch: SlotWatch;
  private readonly errors: ErrorRecord;
  private readonly free: Client[] = [];
  private reader: Client | null = null;
  private readonly refresher: LedgerRefresh;
  /** Partitions this process holds in the group, as of its last join (on /healthz). */
  private assigned = 0;
  /** Per "topic:partition": the offset this process last sought to after a fetch started past the ledger. */
  private readonly sought = new Map<string, bigint>();
  private readonly writes: DatabaseGroupCommit<Counted, CountOutcome>;
  /** kafka.registry: to read the source block of Avro records; null when none is configured. */
  private readonly avro: AvroRegistry | null;

  constructor(private readonly o: CounterOptions) {
    this.log = o.log;
    this.errors = new ErrorRecord(o.metrics.errors, o.log);
    this.writes = new DatabaseGroupCommit<Counted, CountOutcome>({
      slots: 1, // one writer: concurrent ones waited on each other's row locks (bench/README.md, "End to end")
      // The counter is not on the data's path: gathering batches for a while costs only how
      // fresh its counts are, and each ledger write rewrites whole windows' offset ranges.
      lingerMs: o.config.counter.lingerMs,
      group: () => {
        const partitions = new Set<string>();
        return { join: (b) => !partitions.has(`${b.topic}:${b.partition}`) && partitions.add(`${b.topic}:${b.partition}`) !== undefined };
      },
      commit: (batches) => this.count(batches),
      isolate: (err) => !serviceError(err, "counting").retriable,
      live: (b) => b.live(),
    });
    this.topics = topicNames(o.config.kafka.topicPrefix);
    this.avro = o.config.kafka.registry === undefined ? null : new AvroRegistry(o.config.kafka.registry);
    this.kafka = createKafka({ connection: o.config.kafka, clientId: `${o.config.kafka.clientId}-counter`, log: o.log });
    this.slotWatch = new SlotWatch({ config: o.config, kafka: this.kafka, log: o.log.child({ component: "slot-check" }) });
    this.refresher = new LedgerRefresh({ config: o.config, kafka: this.kafka, metrics: o.metrics, log: o.log, slot: () => this.slotWatch.state, noteError: (err, what) => this.noteError(err, what) });
    const control = new Set([this.topics.tallies, this.topics.manifests, this.topics.checkpoints]);
    const c = o.config.counter;
    this.svc = new GroupService({
      kafka: this.kafka,
      log: o.log,
      groupId: c.group,
      sessionTimeoutMs: c.sessionTimeoutMs,
      topicPollMs: c.topicPollMs,
      concurrency: CONCURRENT_BATCHES,
      consumer: FETCH,
      wants: (t) => this.topics.dataPattern.test(t) || control.has(t),
      setUp: () => this.setUp(),
      eachBatch: (payload) => this.onBatch(payload),
      listen: (group) =>
        group.on(group.events.GROUP_JOIN, (e) => {
          this.assigned = Object.values(e.payload.memberAssignment).reduce((n, ps) => n + ps.length, 0);
          this.seekToLedger(e.payload.memberAssignment).catch((err: unknown) => {
            // The fetches then start at the group's offsets; count() still seeks back where they are past the ledger.
            this.noteError(err, "reading the ledger's positions after joining the group");
            this.log.warn({ err: describeError(err) }, "could not read the ledger's positions after joining the group; relying on the per-batch check");
          });
        }),
      noteError: (err, what) => this.noteError(err, what),
      groupName: "the counter's consumer group",
      noTopicsMessage: "no topics of the prefix yet; waiting for the producer",
      what: "counting",
      backoff: () => backoff(200, 30_000),
    });
  }

  health(): Health {
    const phase = this.svc.phase === "running" ? "counting" : this.svc.phase;
    const failing = this.refresher.failing;
    const latest = this.refresher.latest;
    const slow = this.refresher.slow;
    const healthy = phase !== "failed" && phase !== "stopped" && !failing;
    return {
      healthy,
      status: failing && phase === "counting" ? "ledger-unreachable" : phase,
      details: {
        group: this.o.config.counter.group,
        assignedPartitions: this.assigned,
        ...(latest === null ? {} : { ok: latest.ok, windows: latest.windows, transactions: latest.transactions }),
        ...this.errors.health(),
        ...(slow === null ? {} : { slowRefresh: slow }),
      },
    };
  }

  /** After a failed API read: the connection's state is unknown, the next read reconnects. */
  readFailed(): void {
    const r = this.reader;
    this.reader = null;
    void r?.end().catch(() => undefined); // closing a connection that failed: its error was reported by the read
  }

  /** A connection for the HTTP API's reads (one, queries queue on it). */
  async readConnection(): Promise<Client> {
    this.reader ??= await connect(this.o.config.counter.url, {
      applicationName: "zeroloss-counter-api",
      onIdleError: (err) => {
        this.log.debug({ err: err.message }, "the API's ledger connection failed; the next request reconnects");
        this.reader = null;
      },
    });
    return this.reader;
  }

  /** The last comparison of the replication slot with the producer's checkpoint. */
  get slotState(): SlotState {
    return this.slotWatch.state;
  }

  async run(): Promise<void> {
    const tick = setInterval(() => void this.refresher.refresh(), this.o.config.counter.refreshMs);
    this.slotWatch.start();
    try {
      await this.svc.run();
    } finally {
      clearInterval(tick);
      await this.slotWatch.stop();
      for (const db of this.free.splice(0)) await db.end().catch(() => undefined); // closing at exit: nothing to report
      await this.reader?.end().catch(() => undefined);
      await this.refresher.close();
    }
  }

  async stop(): Promise<void> {
    this.svc.stop();
  }

  private async setUp(): Promise<void> {
    const db = await this.acquire();
    try {
      await ensureLedger(db, (step) => this.log.info({ schema: step.schema, version: step.version, step: step.name, ms: step.ms }, "applied a schema migration in the ledger"));
    } catch (err) {
      await db.end().catch(() => undefined); // its state is unknown after a failure
      throw err;
    }
    this.free.push(db);
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    if (batch.messages.length === 0) return;
    const kind = topic === this.topics.tallies ? "tallies" : topic === this.topics.manifests ? "manifests" : topic === this.topics.checkpoints ? "checkpoints" : "data";
    const next = BigInt(batch.lastOffset()) + 1n;
    const counted: Counted = {
      topic,
      partition,
      kind,
      first: BigInt(batch.firstOffset() ?? "0"),
      next,
      highWatermark: kind === "data" ? BigInt(batch.highWatermark) : null,
      messages: batch.messages,
      live: () => isRunning() && !isStale() && !this.svc.stopped,
    };
    const retry = this.svc.backoff();
    for (;;) {
      if (!counted.live()) return; // not counted: read again by whoever holds the partition
      try {
        const outcome = await this.writes.write(counted);
        if (outcome === null) return;
        if (outcome.seekTo !== null) {
          this.log.info({ topic, partition, fetched: counted.first.toString(), ledger: outcome.seekTo.toString() }, "the fetch starts past the ledger's position; seeking back");
          this.svc.group?.seek({ topic, partition, offset: outcome.seekTo.toString() });
          return;
        }
        this.o.metrics.read.inc({ kind }, outcome.records);
        for (const r of outcome.rejected) {
          this.o.metrics.rejected.inc({ kind });
          this.log.warn({ topic, partition, offset: r.offset }, `record not used by the counter: ${r.reason}`);
        }
        break;
      } catch (err) {
        const e = this.noteError(err, `counting ${topic}[${partition}] at ${batch.firstOffset()}`);
        if (!e.retriable) {
          this.log.error({ topic, partition, code: e.code }, `the counter stops: ${e.message}`);
          this.svc.fail(e); // run() ends with it; this batch stays uncounted and is read again after a restart
          return;
        }
        const wait = retry.next();
        this.log.warn({ topic, partition, code: e.code, retryInMs: wait }, `counting a batch failed, retrying: ${e.message}`);
        await waitWithHeartbeat(wait, heartbeat, () => this.svc.stopped);
      }
    }
    resolveOffset(batch.lastOffset());
  }

  /** One ledger transaction for the batches of several partitions (see the file's head). */
  private async count(batches: readonly Counted[]): Promise<CountOutcome[]> {
    // Avro records' schemas are fetched before the ledger transaction, not inside it.
    const avro = this.avro;
    if (avro !== null) for (const b of batches) if (b.kind === "data") await avro.load(b.messages.map((m) => m.value));
    const source =
      avro === null
        ? null
        : (value: Buffer) => {
            const env = avro.decode(value);
            return { ...env.source, rows: rowsOfRecord(env) };
          };
    const db = await this.acquire();
    let counted: { positions: PositionWrite[]; outcomes: CountOutcome[] };
    try {
      counted = await inTransaction(db, "a ledger transaction", async () => {
        const stored = await storedPositions(db, batches);
        const deltas = emptyDeltas();
        const windowSize = this.o.config.tallies.windowSize;
        const positions: PositionWrite[] = [];
        const outcomes: CountOutcome[] = [];
        for (const b of batches) {
          const k = `${b.topic}:${b.partition}`;
          const from = stored.get(k) ?? 0n;
          if (b.first > from && this.sought.get(k) !== from) {
            // The fetch starts past the ledger: the group's offset is ahead of it (a restored or
            // new ledger). Go back to where the ledger is; noted as sought once this commits.
            outcomes.push({ seekTo: from, records: 0, rejected: [] });
            continue;
          }
          if (b.first > from) {
            // Sought there already: what lies between is gone (retention) or was never data
            // (commit markers, aborted records, which kafkajs does not hand over).
            const low = await this.logStart(b.topic, b.partition);
            if (low > from) this.log.warn({ topic: b.topic, partition: b.partition, from: from.toString(), logStart: low.toString() }, "records before Kafka's log start are no longer in Kafka (retention); counting from there");
          }
          const records = b.messages.filter((m) => BigInt(m.offset) >= from);
          const rejectedBefore = deltas.rejected.length;
          if (b.kind === "tallies") addTallyRecords(deltas, records, windowSize);
          else if (b.kind === "manifests") addManifestRecords(deltas, records);
          else if (b.kind === "checkpoints") addCheckpointRecords(deltas.snapshots, records, deltas.rejected);
          else addDataRecords(deltas, b.topic, b.partition, records, windowSize, source);
          positions.push({ topic: b.topic, partition: b.partition, nextOffset: b.next > from ? b.next : from, highWatermark: b.highWatermark });
          outcomes.push({ seekTo: null, records: records.length, rejected: deltas.rejected.slice(rejectedBefore) });
        }
        if (positions.length > 0) {
          const result = await writeBatch(db, { positions, windowSize, deltas });
          if (result.repeatedTallies > 0) this.log.debug({ repeated: result.repeatedTallies }, "tallies seen before (an outbox resend) were not counted again");
        }
        return { positions, outcomes };
      });
    } catch (err) {
      await db.end().catch(() => undefined); // the connection may be gone or mid-statement: not given back to the pool
      throw err;
    }
    this.free.push(db);
    const { positions, outcomes } = counted;
    outcomes.forEach((o, i) => {
      const b = batches[i] as Counted;
      if (o.seekTo !== null) this.sought.set(`${b.topic}:${b.partition}`, o.seekTo);
    });
    await this.commitOffsets(positions);
    return outcomes;
  }

  /** The first offset Kafka still holds in a partition. */
  private async logStart(topic: string, partition: number): Promise<bigint> {
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(topic);
      const p = offsets.find((o) => o.partition === partition);
      if (p === undefined) throw new ZerolossError("KAFKA_PARTITION_MISSING", `${topic} has no partition ${partition}`);
      return BigInt(p.low);
    } catch (err) {
      throw kafkaError(err, `reading the log start of ${topic}[${partition}]`);
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * On joining the group: every assigned partition is read from the ledger's position, not
   * the group's offset (only a hint), so a ledger restored or emptied while the stream is
   * idle is filled again without waiting for new records.
   */
  private async seekToLedger(assigned: Record<string, number[]>): Promise<void> {
    const partitions = Object.entries(assigned).flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition })));
    if (partitions.length === 0) return;
    const db = await this.acquire();
    let stored: Map<string, bigint>;
    try {
      stored = await storedPositions(db, partitions, false);
    } catch (err) {
      await db.end().catch(() => undefined); // its state is unknown after a failure
      throw err;
    }
    this.free.push(db);
    for (const { topic, partition } of partitions) {
      this.svc.group?.seek({ topic, partition, offset: (stored.get(`${topic}:${partition}`) ?? 0n).toString() });
    }
    this.log.info({ partitions: partitions.length }, "reading assigned partitions from the ledger's positions");
  }

  /** Only a hint, in one request per ledger transaction: the ledger holds the positions, and a re-read batch is skipped there. */
  private async commitOffsets(positions: readonly PositionWrite[]): Promise<void> {
    if (positions.length === 0) return;
    try {
      await this.svc.group?.commitOffsets(positions.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.nextOffset.toString() })));
    } catch (err) {
      this.log.debug({ err: describeError(err), partitions: positions.length }, "committing the counter's Kafka offsets failed");
    }
  }

  private async acquire(): Promise<Client> {
    return (
      this.free.pop() ??
      (await connect(this.o.config.counter.url, {
        applicationName: "zeroloss-counter",
        onIdleError: (err) => this.log.debug({ err: err.message }, "an idle ledger connection failed; its next use reconnects"),
      }))
    );
  }

  private noteError(err: unknown, what: string): ZerolossError {
    return this.errors.note(serviceError(err, what), what, err);
  }
}
