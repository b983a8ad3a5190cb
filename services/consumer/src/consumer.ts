// The consumer's life: a Kafka consumer group over the data topics of the prefix
// (read_committed), the fetched partition batches applied to the target in transactions
// that several of them share where they may (applier.ts, target-transaction.ts), and only then their
// offsets committed. kafkajs's auto-resolve and auto-commit
// are off: a batch that was not committed in the target is never committed in Kafka.
//
// Fetch-ahead: a batch is handed back to kafkajs once the Applier has it, so the next fetch
// runs while the target applies it; one batch per partition is in the target at a time.
//
// Failures: a retriable one (target or Kafka away, serialization failure, deadlock) retries
// the batch with backoff, heartbeating so the group keeps the partition; a non-retriable
// one (a target table that does not match, a bug) stops that partition with the error on
// /healthz and in the log, and the others go on. A rebalance while a batch is in the target
// is harmless: the offset commit fails, and whoever owns the partition next re-reads those
// records and finds them applied (LSN guard) — nothing lost, nothing applied twice.
import type { Config } from "@zeroloss/config";
import { backoff, describeError, type ErrorCode, type ZerolossError } from "@zeroloss/errors";
import { Failpoints } from "@zeroloss/failpoints";
import { awaitWithHeartbeat, createKafka, GroupService, waitWithHeartbeat } from "@zeroloss/kafka";
import { ErrorRecord, type Health } from "@zeroloss/observability";
import { connect, describeUrl, missingTargetPrivileges, privilegeError, query, serviceError } from "@zeroloss/pg";
import { AvroRegistry, EnvelopeReader } from "@zeroloss/avro";
import { topicNames, type TopicNames } from "@zeroloss/wire";
import type { Consumer as KafkaConsumer, EachBatchPayload, Kafka } from "kafkajs";
import type { Logger } from "pino";
import { TargetConnection, type BatchResult, type PartitionBatch } from "./target-transaction.js";
import { Applier } from "./applier.js";
import { planBatch, type BatchPlan, type InputRecord } from "./batch.js";
import type { ConsumerMetrics } from "./metrics.js";
import { OutboxPublisher } from "./outbox.js";
import { ensureBookkeeping } from "./target-schema.js";
import { TargetTables } from "./target-tables.js";
import { observeBatch } from "./batch-metrics.js";

export interface ConsumerOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly metrics: ConsumerMetrics;
  /** Fault injection (docs/failpoints.md); Failpoints.none unless ZEROLOSS_FAILPOINTS arms some. */
  readonly failpoints?: Failpoints;
}

interface StoppedPartition {
  readonly topic: string;
  readonly partition: number;
  readonly code: ErrorCode;
  readonly message: string;
}

/** undefined_column, datatype_mismatch: what a batch planned before a concurrent target DDL meets. */
const SCHEMA_RACE = new Set(["42703", "42804"]);

const bigMax = (a: bigint, b: bigint): bigint => (a > b ? a : b);

export class Consumer {
  private readonly log: Logger;
  private readonly failpoints: Failpoints;
  private readonly topics: TopicNames;
  private readonly kafka: Kafka;
  private readonly outbox: OutboxPublisher;
  private readonly svc: GroupService;
  private readonly errors: ErrorRecord;
  private readonly stoppedPartitions = new Map<string, StoppedPartition>();
  private readonly free: TargetConnection[] = [];
  private readonly tables: TargetTables;
  private readonly decoder: EnvelopeReader;
  private readonly applier: Applier;
  /** Per "topic:partition": the offset after what this process applied and committed (or, stopped, the offset it stopped at). */
  private readonly positions = new Map<string, bigint>();
  /** Per "topic:partition": the batch in the target (or waiting for a transaction), until it is done. */
  private readonly inTarget = new Map<string, { readonly done: Promise<void>; readonly nextOffset: bigint }>();
  /** Per "topic:partition": the highest high watermark fetched, for the lag gauge. */
  private readonly highWatermarks = new Map<string, bigint>();
  /** The partitions this process holds since the last rebalance (null before the first). */
  private assigned: ReadonlySet<string> | null = null;
  /** Batches fetched and waiting for their partition's batch in the target. */
  private ahead = 0;

  constructor(private readonly o: ConsumerOptions) {
    this.log = o.log;
    this.errors = new ErrorRecord(o.metrics.errors, o.log);
    this.failpoints = o.failpoints ?? Failpoints.none;
    this.topics = topicNames(o.config.kafka.topicPrefix);
    const registry = o.config.kafka.registry;
    this.decoder = new EnvelopeReader(registry === undefined ? null : new AvroRegistry(registry));
    this.kafka = createKafka({ connection: o.config.kafka, clientId: `${o.config.kafka.clientId}-consumer`, log: o.log });
    this.tables = new TargetTables({ url: o.config.target.url, schemaChanges: o.config.target.schemaChanges, decoder: this.decoder, metrics: o.metrics, log: o.log });
    this.outbox = new OutboxPublisher({
      url: o.config.target.url,
      kafka: this.kafka,
      talliesTopic: this.topics.tallies,
      log: o.log.child({ component: "outbox" }),
      onError: (err) => this.noteError(err, "publishing the outbox (tallies, DLQ); will retry after the next batch"),
    });
    this.applier = new Applier({
      ctx: {
        group: o.config.consumer.group,
        windowSize: o.config.tallies.windowSize,
        talliesTopic: this.topics.tallies,
        dlqTopic: this.topics.dlq,
        failpoints: this.failpoints,
      },
      transactions: o.config.consumer.targetTransactions,
      maxBytes: o.config.consumer.maxBatchBytes,
      acquire: () => this.acquire(),
      release: (conn) => this.free.push(conn),
      observe: (batches, seconds) => {
        o.metrics.applySeconds.observe(seconds);
        o.metrics.transactionBatches.observe(batches);
      },
      commitOffsets: (batches) => this.commitOffsets(batches),
      log: o.log.child({ component: "applier" }),
    });
    const c = o.config.consumer;
    this.svc = new GroupService({
      kafka: this.kafka,
      log: o.log,
      groupId: c.group,
      sessionTimeoutMs: c.sessionTimeoutMs,
      topicPollMs: c.topicPollMs,
      concurrency: c.partitionsConcurrently,
      // A fetch brings about what the target transactions in flight take (each up to
      // maxBatchBytes); the next one is fetched while they apply (fetch-ahead, onBatch), so
      // more per fetch would only wait in memory.
      consumer: { maxBytesPerPartition: c.maxBatchBytes, maxBytes: c.maxBatchBytes * Math.max(2, c.targetTransactions) },
      wants: (t) => this.topics.dataPattern.test(t),
      setUp: () => this.setUp(),
      eachBatch: (payload) => this.onBatch(payload),
      listen: (group) => this.listen(group),
      noteError: (err, what) => this.noteError(err, what),
      groupName: "the consumer group",
      noTopicsMessage: "no data topics yet; waiting for the producer to create them",
      what: "consuming",
      backoff: () => backoff(c.retryInitialMs, c.retryMaxMs),
    });
  }

  health(): Health {
    const stopped = [...this.stoppedPartitions.values()];
    const phase = this.svc.phase === "running" ? "consuming" : this.svc.phase;
    const healthy = phase !== "failed" && phase !== "stopped" && stopped.length === 0;
    return {
      healthy,
      status: stopped.length > 0 && phase === "consuming" ? "partition-stopped" : phase,
      details: {
        group: this.o.config.consumer.group,
        stoppedPartitions: stopped,
        ...this.errors.health(),
      },
    };
  }

  async run(): Promise<void> {
    try {
      await this.svc.run();
    } finally {
      await Promise.allSettled([...this.inTarget.values()].map((b) => b.done)); // batches handed back to kafkajs early still finish (or give up: not live)
      await this.outbox.close();
      for (const c of this.free.splice(0)) await c.client.end().catch(() => undefined); // closing at exit: nothing to report
      await this.tables.close();
    }
  }

  async stop(): Promise<void> {
    this.svc.stop();
  }

  private async setUp(): Promise<void> {
    const ddl = await this.tables.connection();
    const privileges = await missingTargetPrivileges(ddl, [], { replicaRole: this.o.config.target.sessionReplicationRole === "replica" });
    if (privileges.missing.length > 0) throw privilegeError("consumer", `the target (${describeUrl(this.o.config.target.url)})`, privileges.role, privileges.missing);
    await ensureBookkeeping(ddl, (step) => this.log.info({ schema: step.schema, version: step.version, step: step.name, ms: step.ms }, "applied a schema migration in the target"));
    void this.outbox.drain(); // what a previous run left behind
  }

  /** The consumer's own listeners on each new kafkajs consumer: commits past control records, lag, assignment. */
  private listen(group: KafkaConsumer): void {
    // A fetch that held only commit markers or aborted records never reaches eachBatch;
    // committing past it keeps the group's lag at zero on an idle stream.
    group.on(group.events.END_BATCH_PROCESS, (e) => {
      const { topic, partition, batchSize, lastOffset, highWatermark } = e.payload;
      const k = `${topic}:${partition}`;
      this.highWatermarks.set(k, bigMax(this.highWatermarks.get(k) ?? 0n, BigInt(highWatermark)));
      if (batchSize === 0 && !this.stoppedPartitions.has(k)) {
        const next = BigInt(lastOffset) + 1n;
        const commit = () => {
          // Never backwards (a later batch committed first), never past a batch that was not applied and committed.
          if (this.stoppedPartitions.has(k) || (this.positions.get(k) ?? -1n) >= next) return;
          group.commitOffsets([{ topic, partition, offset: next.toString() }]).then(
            () => {
              if ((this.positions.get(k) ?? -1n) < next) this.positions.set(k, next);
              this.setLag(topic, partition);
            },
            (err: unknown) => this.log.debug({ err: describeError(err), topic, partition }, "committing past commit markers failed; the next batch commits"),
          );
        };
        // These markers lie past the records of the partition's batch in the target (fetched
        // before them): committed once that batch is applied and its offsets committed.
        const before = this.inTarget.get(k);
        if (before === undefined) commit();
        else void before.done.then(() => ((this.positions.get(k) ?? -1n) >= before.nextOffset ? commit() : undefined));
      }
      this.setLag(topic, partition);
    });
    // After a rebalance, partitions that went to another member are no longer this process's lag to report.
    group.on(group.events.GROUP_JOIN, (e) => {
      const assigned = new Set(Object.entries(e.payload.memberAssignment).flatMap(([topic, parts]) => parts.map((p) => `${topic}:${p}`)));
      this.assigned = assigned;
      for (const k of [...this.positions.keys()]) {
        if (assigned.has(k)) continue;
        this.positions.delete(k);
        this.highWatermarks.delete(k);
        const at = k.lastIndexOf(":");
        this.o.metrics.lag.remove({ topic: k.slice(0, at), partition: k.slice(at + 1) });
      }
    });
  }

  /**
   * kafkajs fetches again only once every batch of its last fetch is handed back. A batch is
   * therefore handed back as soon as it is in the Applier's hands, and the next fetch runs
   * while the target applies it (fetch-ahead). One batch per partition is in the target at a
   * time, in offset order: the next one waits here for it. Its offset is resolved at once so
   * kafkajs fetches past it; only the commit after the target transaction (commitOffsets)
   * moves the group's offset, so a crash still re-reads it.
   */
  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat } = payload;
    const k = `${batch.topic}:${batch.partition}`;
    const previous = this.inTarget.get(k);
    if (previous !== undefined) {
      this.ahead++;
      this.o.metrics.batchesAhead.set(this.ahead);
      try {
        await awaitWithHeartbeat(previous.done, heartbeat);
      } finally {
        this.ahead--;
        this.o.metrics.batchesAhead.set(this.ahead);
      }
    }
    if (this.stoppedPartitions.has(k) || batch.messages.length === 0) return;
    const work = this.applyBatch(payload).catch((err: unknown) => {
      // Not a batch's failure (those are handled inside): a bug. The consumer stops with it. The
      // partition is stopped first, so the batch fetched behind this one is not applied past it.
      const e = this.noteError(err, `applying ${k}`);
      this.stoppedPartitions.set(k, { topic: batch.topic, partition: batch.partition, code: e.code, message: e.message });
      this.o.metrics.stoppedPartitions.set(this.stoppedPartitions.size);
      this.log.error({ code: e.code, topic: batch.topic, partition: batch.partition }, `the consumer stops: ${e.message}`);
      this.svc.fail(e);
    });
    const entry = { done: work, nextOffset: BigInt(batch.lastOffset()) + 1n };
    this.inTarget.set(k, entry);
    void work.finally(() => {
      if (this.inTarget.get(k) === entry) this.inTarget.delete(k);
    });
    resolveOffset(batch.lastOffset());
  }

  /** Plans and applies one partition batch, retrying what retrying can cure; a batch's own failure stops its partition. */
  private async applyBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, isRunning, isStale, pause } = payload;
    const { topic, partition } = batch;
    // Still this process's to apply: kafkajs running, no seek pending (the consumer makes
    // none), the service and the partition not stopped. Each of these, once false, stays false
    // for the batches fetched behind this one, so none of them applies past a batch that gave up. (A partition moved
    // to another member by a rebalance is not among them: that can flip back, and the batch
    // behind would then apply past this one; its next owner finds this batch's records
    // applied instead, as it would without fetch-ahead.)
    const k = `${topic}:${partition}`;
    const live = () => isRunning() && !isStale() && !this.svc.stopped && !this.stoppedPartitions.has(k);
    const records: InputRecord[] = batch.messages.map((m) => ({ offset: m.offset, key: m.key, value: m.value }));
    const nextOffset = BigInt(batch.lastOffset()) + 1n;
    const log = this.log.child({ topic, partition, firstOffset: batch.firstOffset(), lastOffset: batch.lastOffset() });
    const retry = this.backoff();
    let plan: BatchPlan;
    let result: BatchResult;
    let committed: boolean;
    let racedOnce = false;
    for (;;) {
      if (!live()) return; // not committed anywhere: the next owner reads it again
      try {
        plan = await planBatch(topic, partition, records, { topics: this.topics, decoder: this.decoder, resolve: (env) => this.tables.of(env) });
        const applied = await this.applier.apply({ topic, partition, nextOffset, plan, live });
        if (applied === null) return;
        result = applied.result;
        committed = applied.offsetsCommitted;
        break;
      } catch (err) {
        const e = this.noteError(err, "applying a batch");
        // A column renamed or retyped after this batch was planned, by another partition or
        // another consumer process (target.schemaChanges apply): planned again, once, against
        // the table as it is now. A second such failure stops the partition as any other.
        const raced = !racedOnce && this.o.config.target.schemaChanges === "apply" && SCHEMA_RACE.has(String(e.details["sqlstate"]));
        if (raced) {
          racedOnce = true;
          this.tables.forget();
        }
        if (!e.retriable && !raced) {
          // The batch fetched after this one (if any) finds the partition stopped and is not applied.
          this.stoppedPartitions.set(`${topic}:${partition}`, { topic, partition, code: e.code, message: e.message });
          if (!this.positions.has(`${topic}:${partition}`)) this.positions.set(`${topic}:${partition}`, BigInt(batch.firstOffset() ?? "0"));
          this.setLag(topic, partition); // it keeps its lag
          this.o.metrics.stoppedPartitions.set(this.stoppedPartitions.size);
          pause();
          log.error({ code: e.code, details: e.details }, `partition stopped: ${e.message}`);
          return;
        }
        const wait = retry.next();
        log.warn({ code: e.code, retryInMs: wait }, `batch failed, retrying: ${e.message}`);
        // Its offset is resolved already (fetch-ahead): kafkajs will not hand it over again, so
        // it is tried until it is applied or its partition is no longer this process's to
        // apply (live() above). A failed heartbeat is kafkajs's to act on (the waiting batch
        // behind this one heartbeats too, and rejoins); this batch goes on.
        await waitWithHeartbeat(wait, heartbeat, () => this.svc.stopped).catch((hb: unknown) =>
          log.debug({ err: describeError(hb) }, "heartbeat failed while waiting to retry a batch"),
        );
      }
    }
    observeBatch(this.o.metrics, this.log, plan, result);
    if (!committed) return;
    if (this.assigned === null || this.assigned.has(k)) {
      if ((this.positions.get(k) ?? -1n) < nextOffset) this.positions.set(k, nextOffset);
      this.highWatermarks.set(k, bigMax(this.highWatermarks.get(k) ?? 0n, BigInt(batch.highWatermark)));
      this.setLag(topic, partition);
    }
    void this.outbox.drain();
  }

  /**
   * Lag from what is applied and committed, not from what was fetched (a stopped partition
   * keeps its lag), against the highest high watermark fetched.
   */
  private setLag(topic: string, partition: number): void {
    const k = `${topic}:${partition}`;
    const applied = this.positions.get(k);
    const hw = this.highWatermarks.get(k);
    if (applied === undefined || hw === undefined) return;
    this.o.metrics.lag.set({ topic, partition: String(partition) }, Math.max(0, Number(hw - applied)));
  }

  /** The offsets of batches just committed in the target, in one request (failpoints around it). */
  private async commitOffsets(batches: readonly PartitionBatch[]): Promise<boolean> {
    await this.failpoints.hit("consumer.after-target-commit");
    const offsets = batches.map((b) => ({ topic: b.topic, partition: b.partition, offset: b.nextOffset.toString() }));
    try {
      const group = this.svc.group;
      if (group === null) return false;
      await group.commitOffsets(offsets);
    } catch (err) {
      // Applied in the target but not committed in Kafka: a rebalance moved the partitions.
      // Their next owner re-reads these records and finds them applied.
      this.log.warn({ err: describeError(err), offsets }, "offset commit failed after the target commit; the records will be read again and recognised as applied");
      return false;
    }
    await this.failpoints.hit("consumer.after-offset-commit");
    return true;
  }

  private async acquire(): Promise<TargetConnection> {
    const c = this.free.pop();
    if (c !== undefined) return c;
    const client = await connect(this.o.config.target.url, {
      applicationName: "zeroloss-consumer",
      onIdleError: (err) => this.log.debug({ err: err.message }, "an idle target connection failed; the next batch on it reconnects"),
    });
    try {
      // For the session, as PostgreSQL's apply workers run (docs/consumer.md, "Foreign keys
      // and triggers"): the batches of different partitions commit in any order.
      await query(client, "setting session_replication_role", `SET session_replication_role = ${this.o.config.target.sessionReplicationRole}`);
    } catch (err) {
      await client.end().catch(() => undefined); // the error below is what matters
      throw err;
    }
    return new TargetConnection(client);
  }

  private noteError(err: unknown, what: string): ZerolossError {
    return this.errors.note(serviceError(err, what), what, err);
  }

  private backoff() {
    return this.svc.backoff();
  }
}
