// The producer's life: set up the source and Kafka, find where the last run stopped
// (its checkpoint in Kafka), snapshot what is not yet snapshotted, then stream. Any
// retriable failure (Kafka away, NOT_ENOUGH_REPLICAS, PostgreSQL restarting) tears the
// pipeline down and starts it again from the durable position after a backoff; the slot
// is never acknowledged past what Kafka holds. A non-retriable failure (bad password,
// table without a key, lost slot, a slot ahead of the checkpoint) stops with an error that
// names the thing and the fix.
import type { Config } from "@zeroloss/config";
import { describeError, ZerolossError } from "@zeroloss/errors";
import { Failpoints } from "@zeroloss/failpoints";
import { checkpointTopicEnds, createKafka, ensureTopics, kafkaError, readCheckpoint, type TopicSpec } from "@zeroloss/kafka";
import { ErrorRecord, type Health } from "@zeroloss/observability";
import {
  checkServer,
  checkpointAheadOfSource,
  checkSlotAgainstCheckpoint,
  connect,
  createSlot,
  enableSlotFailover,
  requireFailoverSlots,
  synchronizedStandbySlots,
  describeTable,
  describeUrl,
  dropSlot,
  ensurePublication,
  formatLsn,
  keyIsAfter,
  maxLsn,
  missingSourcePrivileges,
  parseLsn,
  privilegeError,
  readKeyOrder,
  qualifiedName,
  query,
  quoteLiteral,
  readColumnFacts,
  readKeyColumns,
  requireKeys,
  resolveTables,
  slotStatus,
  TypeNames,
  type KeyColumn,
  type Lsn,
  type TableInfo,
} from "@zeroloss/pg";
import { AvroRegistry } from "@zeroloss/avro";
import { topicNames, type SnapshotTableProgress, type TopicNames } from "@zeroloss/wire";
import type { Admin, Kafka } from "kafkajs";
import type pg from "pg";
import type { Logger } from "pino";
import { planStart, slotMissing } from "./start-plan.js";
import { KafkaWriter } from "./kafka-writer.js";
import type { ProducerMetrics } from "./metrics.js";
import { avroEncoding, JSON_ENCODING, type RelationSchema, type ValueEncoding } from "./envelopes.js";
import { initialProgress, runSnapshot } from "./snapshot.js";
import { HEARTBEAT_PREFIX, Streamer } from "./streamer.js";
import { LiveSnapshots } from "./live-snapshot.js";

export interface ProducerOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly metrics: ProducerMetrics;
  /** Drop the slot and snapshot every table again (after a lost slot). */
  readonly resnapshot?: boolean;
  /**
   * A slot found ahead of the checkpoint (SLOT_AHEAD_OF_CHECKPOINT) is accepted: the changes
   * in between are given up, and streaming goes on from the slot's position.
   */
  readonly acceptSlotGap?: boolean;
  /** Fault injection (docs/failpoints.md); Failpoints.none unless ZEROLOSS_FAILPOINTS arms some. */
  readonly failpoints?: Failpoints;
}

type Phase = "starting" | "snapshotting" | "streaming" | "waiting" | "stopped" | "failed";

/** Waits before reading the checkpoint again while the slot looks ahead of it (about 12 s in all). */
const SLOT_AHEAD_REREADS_MS = [2_000, 4_000, 6_000];

export class Producer {
  private readonly log: Logger;
  private readonly topics: TopicNames;
  private readonly encoding: ValueEncoding;
  private readonly kafka: Kafka;
  private stopped = false;
  private phase: Phase = "starting";
  private streamer: Streamer | null = null;
  private lastProgress = Date.now();
  private readonly errors: ErrorRecord;
  private wake: (() => void) | null = null;
  private resnapshot: boolean;
  /** Cleared once the acceptance is durable (or there was no gap): a later gap stops the producer again. */
  private acceptSlotGap: boolean;
  private readonly cleanups: Array<() => Promise<void>> = [];

  constructor(private readonly o: ProducerOptions) {
    this.log = o.log;
    this.errors = new ErrorRecord(o.metrics.errors, o.log);
    this.topics = topicNames(o.config.kafka.topicPrefix);
    const registry = o.config.kafka.registry;
    this.encoding = o.config.kafka.encoding === "avro" && registry !== undefined ? avroEncoding(new AvroRegistry(registry)) : JSON_ENCODING;
    this.kafka = createKafka({ connection: o.config.kafka, clientId: `${o.config.kafka.clientId}-producer`, log: o.log });
    this.resnapshot = o.resnapshot === true;
    this.acceptSlotGap = o.acceptSlotGap === true;
  }

  health(): Health {
    const stallMs = this.o.config.producer.stallSeconds * 1000;
    const waitingWork = this.phase === "waiting" || (this.streamer?.pending ?? false);
    const stalled = waitingWork && Date.now() - this.lastProgress > stallMs;
    const healthy = this.phase !== "failed" && this.phase !== "stopped" && !stalled;
    return {
      healthy,
      status: stalled ? "stalled" : this.phase,
      details: {
        durableLsn: this.streamer === null ? null : formatLsn(this.streamer.durableLsn),
        secondsSinceProgress: Math.round((Date.now() - this.lastProgress) / 1000),
        ...this.errors.health(),
      },
    };
  }

  private setPhase(p: Phase): void {
    this.phase = p;
    this.o.metrics.setPhase(p);
  }

  /** Runs until stop() or a non-retriable failure (thrown). Resolves after initial_only completes. */
  async run(): Promise<void> {
    let backoff = 500;
    while (!this.stopped) {
      try {
        const finished = await this.runOnce();
        backoff = 500;
        if (finished) {
          this.setPhase("stopped");
          return;
        }
      } catch (err) {
        const e = err instanceof ZerolossError ? err : new ZerolossError("PRODUCER_FAILED", describeError(err), { cause: err });
        this.errors.note(e, "running the pipeline", err);
        if (this.stopped) break;
        if (!e.retriable) {
          this.setPhase("failed");
          throw e;
        }
        this.setPhase("waiting");
        await this.cleanup(); // close the failed attempt's connections before waiting
        this.log.warn({ code: e.code, err: e.message, retryInMs: backoff }, "pipeline interrupted; restarting from the durable position");
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, backoff);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = null;
        backoff = Math.min(backoff * 2, 30_000);
      } finally {
        await this.cleanup();
      }
    }
    this.setPhase("stopped");
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.streamer?.stop();
  }

  private async cleanup(): Promise<void> {
    const tasks = this.cleanups.splice(0).reverse();
    for (const task of tasks) {
      try {
        await task();
      } catch (err) {
        this.log.warn({ err: describeError(err) }, "cleanup step failed");
      }
    }
  }

  private async runOnce(): Promise<boolean> {
    const { config } = this.o;
    const src = config.source;
    this.setPhase("starting");
    const control = await connect(src.url, {
      applicationName: "zeroloss-producer-control",
      onIdleError: (err) => this.log.warn({ err: err.message }, "control connection lost; the next query restarts the pipeline"),
    });
    this.cleanups.push(() => control.end());
    const server = await checkServer(control);
    // Before any publication, topic or slot exists: a slot that would not survive a failover is not what was asked for.
    if (src.slotFailover) {
      requireFailoverSlots(server.version, src.slot);
      if ((await synchronizedStandbySlots(control)).length === 0) {
        this.log.warn(
          { slot: src.slot },
          "source.slot.failover is on but synchronized_standby_slots is empty: a change can reach Kafka before the standby has it, and after a promotion the new primary's next commits could be skipped (docs/operations.md, \"Failover slots\")",
        );
      }
    }
    const db = (await query<{ db: string }>(control, "reading the database name", "SELECT current_database() AS db"))[0]?.db ?? "";
    const tables = await this.tables(control);
    const privileges = await missingSourcePrivileges(control, tables, src.publication);
    if (privileges.missing.length > 0) throw privilegeError("producer", `the source (${describeUrl(src.url)})`, privileges.role, privileges.missing);

    const admin = this.kafka.admin();
    this.cleanups.push(() => admin.disconnect());
    try {
      await admin.connect();
    } catch (err) {
      throw kafkaError(err, "connecting to Kafka");
    }
    const partitions = await ensureTopics(admin, this.topicSpecs(tables.filter((t) => t.keyColumns.length > 0)), this.log);
    const writer = new KafkaWriter(this.kafka, {
      transactionalId: `${config.kafka.clientId}-producer-${db}-${src.slot}`,
      transactionTimeoutMs: config.producer.transactionTimeoutMs,
      topics: this.topics,
      windowSize: config.tallies.windowSize,
      partitions,
      log: this.log,
      metrics: this.o.metrics,
      failpoints: this.o.failpoints ?? Failpoints.none,
    });
    this.cleanups.push(() => writer.disconnect());
    this.cleanups.push(() => writer.abort());
    await writer.connect();

    let checkpoint = this.resnapshot ? null : await readCheckpoint(this.kafka, this.topics.checkpoints, src.slot, db);
    const mode = src.snapshot.mode;
    const slot = await slotStatus(control, src.slot);
    this.log.info({ checkpoint: checkpoint === null ? null : { phase: checkpoint.phase, lsn: checkpoint.lsn }, slot: slot.exists ? { confirmedFlushLsn: slot.confirmedFlushLsn, walStatus: slot.walStatus } : null, mode }, "source position");
    const behind = checkpointAheadOfSource(checkpoint, slot.currentLsn);
    if (behind !== null) throw behind;

    // Fail closed (DESIGN.md invariant 10): a slot ahead of the checkpoint just read is read
    // again a few times before planStart calls it a gap: right after a broker outage the
    // last commit's checkpoint may not be readable yet (a 2026-12-06 CI run stopped 21 kB
    // behind, after a broker restart, on a pipeline with no gap).
    // A lost slot is planStart's to refuse at once: nothing to read again for it.
    for (const waitMs of this.resnapshot || slot.walStatus === "lost" ? [] : SLOT_AHEAD_REREADS_MS) {
      const verdict = checkSlotAgainstCheckpoint(checkpoint, slot);
      if (verdict.ok) break;
      this.log.info({ slot: src.slot, confirmedFlushLsn: verdict.ahead.slot, checkpointLsn: verdict.ahead.checkpoint, retryInMs: waitMs }, "the slot is ahead of the checkpoint read from Kafka; reading it again before calling it a gap");
      await new Promise((r) => setTimeout(r, waitMs));
      checkpoint = await readCheckpoint(this.kafka, this.topics.checkpoints, src.slot, db);
    }
    const still = checkSlotAgainstCheckpoint(checkpoint, slot);
    if (!still.ok && !this.resnapshot) {
      // Evidence for afterwards: where the checkpoint topic's committed end stood when the gap was called.
      const ends = await checkpointTopicEnds(this.kafka, this.topics.checkpoints).catch((err: unknown) => describeError(err));
      this.log.warn({ slot: src.slot, confirmedFlushLsn: still.ahead.slot, checkpointLsn: still.ahead.checkpoint, checkpointsTopic: this.topics.checkpoints, ends }, "the slot is still ahead of the checkpoint after reading it again");
    }
    const plan = planStart({ slotName: src.slot, checkpoint, slot, mode, resnapshot: this.resnapshot, acceptSlotGap: this.acceptSlotGap });
    this.log.debug({ plan }, "start plan");
    if (src.slotFailover && slot.exists && slot.failover === false && plan.snapshot?.slot !== "create") {
      // Made before source.slot.failover was set: turned on in place (its position is untouched),
      // rather than dropped and made again, which would need a new snapshot.
      const repl = await connect(src.url, { applicationName: "zeroloss-producer-slot", replication: true });
      try {
        await enableSlotFailover(repl, src.slot);
      } finally {
        await repl.end();
      }
      this.log.info({ slot: src.slot }, "source.slot.failover: turned failover on for the existing replication slot");
    }

    let gapAcceptedTo: Lsn | null = null;
    if (plan.gap.kind === "none") {
      if (plan.gap.unusedFlag) this.log.info({ slot: src.slot }, "--accept-slot-gap: the slot is not ahead of the checkpoint; there is no gap to accept");
      this.acceptSlotGap = false;
    } else {
      const { ahead } = plan.gap;
      this.o.metrics.errors.inc({ code: "SLOT_AHEAD_OF_CHECKPOINT" });
      this.log.error(
        { code: "SLOT_AHEAD_OF_CHECKPOINT", slot: src.slot, confirmedFlushLsn: ahead.slot, checkpointLsn: ahead.checkpoint, bytes: ahead.bytes, phase: ahead.phase },
        `--accept-slot-gap: replication slot ${src.slot} is at ${ahead.slot}, ahead of the checkpoint ${ahead.checkpoint}; ` +
          `changes committed between ${ahead.checkpoint} and ${ahead.slot} (${ahead.bytes} bytes of WAL) are lost, accepted by the operator; streaming on from ${ahead.slot}`,
      );
      gapAcceptedTo = plan.gap.to;
      if (plan.gap.persist && checkpoint !== null) {
        // Made durable at once: a restart resumes from the slot's position instead of stopping on the same gap again.
        checkpoint = { ...checkpoint, lsn: ahead.slot, at: new Date().toISOString() };
        await writer.commit([], checkpoint);
        this.acceptSlotGap = false;
      }
    }

    let snapshotTables = tables;
    if (plan.publication === "all-tables") {
      requireKeys(tables);
      await ensurePublication(control, src.publication, tables, { alter: true });
    } else if (plan.publication === "snapshot-tables") {
      // A table that began to match during the initial snapshot waits for the stream (LiveSnapshots).
      const inProgress = new Set(checkpoint?.snapshot?.tables.map((p) => p.table));
      snapshotTables = tables.filter((t) => inProgress.has(qualifiedName(t)));
      requireKeys(snapshotTables);
      await ensurePublication(control, src.publication, snapshotTables, { alter: false });
    } else {
      await ensurePublication(control, src.publication, tables, { alter: false, missingOk: true });
    }
    if (plan.recordIntent) {
      checkpoint = { v: 1, slot: src.slot, db, lsn: "0/0", phase: "snapshot", snapshot: { consistentLsn: "0/0", tables: initialProgress(tables) }, at: new Date().toISOString() };
      await writer.commit([], checkpoint);
      this.resnapshot = false;
    }

    if (plan.snapshot !== null) {
      const snap = checkpoint?.snapshot;
      if (snap === undefined) throw new ZerolossError("CHECKPOINT_INVALID", "a snapshot checkpoint without snapshot progress", { details: { slot: src.slot } });
      let consistent = parseLsn(snap.consistentLsn);
      let floor = snap.floorLsn === undefined ? null : parseLsn(snap.floorLsn);
      let snapshotClients: pg.Client[];
      if (plan.snapshot.slot === "create") {
        if (plan.snapshot.dropLeftover) {
          this.log.warn({ slot: src.slot }, "dropping the slot of an unfinished start, to create it with a fresh exported snapshot");
          await dropSlot(control, src.slot);
        }
        const repl = await connect(src.url, { applicationName: "zeroloss-producer-slot", replication: true });
        try {
          const created = await createSlot(repl, src.slot, true, { failover: src.slotFailover });
          consistent = created.consistentLsn;
          // Imported by every worker before the replication connection ends: the exported snapshot lives as long as it.
          snapshotClients = await this.snapshotConnections(src.url, created.snapshotName);
        } finally {
          await repl.end();
        }
        floor = await this.restartLsn(control, src.slot);
        this.log.info({ slot: src.slot, consistentLsn: formatLsn(consistent), restartLsn: formatLsn(floor) }, "created replication slot with an exported snapshot");
      } else {
        // Nothing acknowledges the slot before the snapshot ends, so its restart LSN is still the one it was created with.
        floor ??= await this.restartLsn(control, src.slot);
        snapshotClients = await this.snapshotConnections(src.url, null);
        this.log.info({ consistentLsn: formatLsn(consistent) }, "resuming the snapshot after a restart, in a new snapshot");
      }
      this.setPhase("snapshotting");
      const progress = await runSnapshot({
        clients: snapshotClients,
        tables: snapshotTables,
        progress: snap.tables,
        consistentLsn: consistent,
        floorLsn: floor,
        slot: src.slot,
        db,
        chunkSize: src.snapshot.chunkSize,
        bulk: src.snapshot.bulk,
        topics: this.topics,
        encoding: this.encoding,
        writer,
        log: this.log,
        metrics: this.o.metrics,
        stopped: () => this.stopped,
      });
      if (this.stopped) return false;
      for (const c of snapshotClients) {
        await query(c, "ending the snapshot transaction", "COMMIT");
        await c.end();
      }
      // With a gap accepted during the snapshot, streaming starts where the slot stands.
      const streamFrom = gapAcceptedTo === null ? consistent : maxLsn(consistent, gapAcceptedTo);
      checkpoint = { v: 1, slot: src.slot, db, lsn: formatLsn(streamFrom), phase: "streaming", at: new Date().toISOString() };
      await writer.commit([], checkpoint);
      this.acceptSlotGap = false;
      this.lastProgress = Date.now();
      this.log.info({ tables: progress.map((p) => ({ table: p.table, rows: p.rows })) }, "snapshot complete");
    }

    let start: Lsn;
    switch (plan.stream.from) {
      case "nowhere":
        if (plan.stream.dropSlot) {
          await dropSlot(control, src.slot);
          this.log.info({ slot: src.slot }, "initial_only: snapshot complete, slot dropped; stopping");
        } else {
          this.log.info("initial_only: the snapshot was completed by an earlier run; nothing to do");
        }
        return true;
      case "new-slot": {
        const repl = await connect(src.url, { applicationName: "zeroloss-producer-slot", replication: true });
        try {
          start = (await createSlot(repl, src.slot, false, { failover: src.slotFailover })).consistentLsn;
        } finally {
          await repl.end();
        }
        this.log.info({ slot: src.slot, consistentLsn: formatLsn(start) }, "created replication slot (snapshot mode never)");
        break;
      }
      case "slot":
        start = parseLsn(slot.confirmedFlushLsn ?? "0/0");
        break;
      case "checkpoint": {
        if (checkpoint === null) throw new ZerolossError("CHECKPOINT_INVALID", "planned to stream from a checkpoint, but none was read or written", { details: { slot: src.slot } });
        // Read again: the slot may have been dropped while the snapshot ran.
        if (!(await slotStatus(control, src.slot)).exists) throw slotMissing(src.slot, `checkpoint ${checkpoint.lsn}`);
        start = parseLsn(checkpoint.lsn);
        break;
      }
    }
    return this.stream(control, admin, writer, db, start, checkpoint?.live ?? []);
  }

  private async stream(control: pg.Client, admin: Admin, writer: KafkaWriter, db: string, start: Lsn, live: readonly SnapshotTableProgress[]): Promise<boolean> {
    const { config } = this.o;
    const types = new TypeNames(control);
    const keyOrders = new WeakMap<RelationSchema, Promise<KeyColumn[]>>(); // per column list (a Relation message)
    // The live snapshots start after the stream; a request read before then waits here (it is live in the streamer already).
    const early: string[] = [];
    let requests: { request(table: string): void } = { request: (table) => early.push(table) };
    const streamer = new Streamer(
      {
        url: config.source.url,
        slot: config.source.slot,
        publication: config.source.publication,
        db,
        topics: this.topics,
        encoding: this.encoding,
        writer,
        types,
        primaryKey: (oid, what) => readKeyColumns(control, oid, false, what),
        columnFacts: (oid, what) => readColumnFacts(control, oid, what),
        batchRecords: config.producer.batchRecords,
        lingerMs: config.producer.lingerMs,
        log: this.log,
        metrics: this.o.metrics,
        failpoints: this.o.failpoints ?? Failpoints.none,
        onDurable: (lsn, commitDate) => {
          this.lastProgress = Date.now();
          this.o.metrics.durableLsn.set(Number(lsn));
          this.o.metrics.lagSeconds.set(commitDate === null ? 0 : Math.max(0, (Date.now() - commitDate.getTime()) / 1000));
        },
        live,
        bulk: config.source.snapshot.bulk,
        onSnapshotRequest: (table) => requests.request(table),
        keyAfter: async (rel, key, after) => {
          let order = keyOrders.get(rel);
          if (order === undefined) keyOrders.set(rel, (order = readKeyOrder(control, rel.oid, rel.qualified)));
          return keyIsAfter(control, await order, key, after, rel.qualified);
        },
      },
      start,
    );
    this.streamer = streamer;
    this.cleanups.push(() => streamer.stop());
    this.lastProgress = Date.now();
    const timers = this.backgroundTasks(control, streamer);
    this.cleanups.push(async () => timers.forEach((t) => clearInterval(t)));
    const liveSnapshots = await this.liveSnapshots(admin, writer, streamer);
    requests = liveSnapshots;
    for (const t of early.splice(0)) liveSnapshots.request(t);
    this.setPhase("streaming");
    const running = streamer.run();
    // After run(): the stream takes chunks from here on. A failure of the live snapshot ends the stream.
    liveSnapshots.runLoop().catch((err: unknown) => {
      if (liveSnapshots.isStopped) this.log.debug({ err: describeError(err) }, "the live snapshot ended with the stream");
      else streamer.abort(err);
    });
    await running;
    return false;
  }

  /** Snapshots tables that begin to match source.tables while streaming (live-snapshot.ts), once started. */
  private async liveSnapshots(admin: Admin, writer: KafkaWriter, streamer: Streamer): Promise<LiveSnapshots> {
    const src = this.o.config.source;
    const open = () =>
      connect(src.url, {
        applicationName: "zeroloss-producer-live-snapshot",
        onIdleError: (err) => this.log.warn({ err: err.message }, "live snapshot connection lost; the next query restarts the pipeline"),
      });
    const client = await open();
    this.cleanups.push(() => client.end());
    const live = new LiveSnapshots({
      client,
      workers: src.snapshot.workers,
      connect: open,
      tables: src.tables,
      exclude: src.exclude,
      publication: src.publication,
      withSnapshot: src.snapshot.mode !== "never",
      chunkSize: src.snapshot.chunkSize,
      checkEveryMs: src.snapshot.newTablesSeconds * 1000,
      topics: this.topics,
      encoding: this.encoding,
      streamer,
      addTopic: async (info) => writer.addTopics(await ensureTopics(admin, this.topicSpecs([info]).slice(0, 1), this.log)),
      log: this.log,
      metrics: this.o.metrics,
    });
    this.cleanups.push(async () => {
      live.stop();
      await live.close();
    });
    return live;
  }

  /** Slot lag metrics every 5 s, and a heartbeat when the published tables are idle. */
  private backgroundTasks(control: pg.Client, streamer: Streamer): NodeJS.Timeout[] {
    const { source } = this.o.config;
    const timers: NodeJS.Timeout[] = [];
    let busy = false;
    timers.push(
      setInterval(() => {
        if (busy) return;
        busy = true;
        void (async () => {
          try {
            const s = await slotStatus(control, source.slot);
            if (s.lagBytes !== null) this.o.metrics.lagBytes.set(s.lagBytes);
            if (s.retainedWalBytes !== null) this.o.metrics.retainedWalBytes.set(s.retainedWalBytes);
            if (!streamer.pending) this.lastProgress = Date.now();
            const idleMs = Date.now() - streamer.lastMessageAt;
            if (source.heartbeatSeconds > 0 && idleMs >= source.heartbeatSeconds * 1000 && (s.lagBytes ?? 0) > 0) {
              // The published tables are idle but WAL moves on: a transactional logical
              // message reaches this stream, and its commit lets the slot advance.
              await query(control, "emitting a heartbeat message", "SELECT pg_logical_emit_message(true, $1, '')", [HEARTBEAT_PREFIX]);
              streamer.lastMessageAt = Date.now();
            }
          } catch (err) {
            this.log.warn({ err: describeError(err) }, "reading slot status / heartbeat failed");
          } finally {
            busy = false;
          }
        })();
      }, Math.min(5_000, Math.max(500, source.heartbeatSeconds * 500))),
    );
    return timers;
  }

  private async restartLsn(control: pg.Client, slot: string): Promise<Lsn> {
    const status = await slotStatus(control, slot);
    if (status.restartLsn === null) throw slotMissing(slot, "the snapshot in progress");
    return parseLsn(status.restartLsn);
  }

  /**
   * source.snapshot.workers connections, each in a REPEATABLE READ transaction in the same
   * snapshot: the slot's exported one, or (resuming, `snapshotName` null) one the first
   * connection exports. Each is closed by the run's cleanup if the snapshot does not end.
   */
  private async snapshotConnections(url: string, snapshotName: string | null): Promise<pg.Client[]> {
    const clients: pg.Client[] = [];
    this.cleanups.push(async () => {
      for (const c of clients) if (!(c as unknown as { _ending: boolean })._ending) await c.end();
    });
    let name = snapshotName;
    for (let i = 0; i < this.o.config.source.snapshot.workers; i++) {
      const client = await connect(url, { applicationName: "zeroloss-producer-snapshot" });
      clients.push(client);
      await query(client, "beginning the snapshot transaction", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      if (name === null) {
        name = (await query<{ s: string }>(client, "exporting the snapshot for the other workers", "SELECT pg_export_snapshot() AS s"))[0]?.s ?? null;
      } else {
        await query(client, "importing the snapshot", `SET TRANSACTION SNAPSHOT ${quoteLiteral(name)}`);
      }
    }
    return clients;
  }

  private async tables(control: pg.Client): Promise<TableInfo[]> {
    const src = this.o.config.source;
    const names = await resolveTables(control, src.tables, src.exclude);
    if (names.length === 0) {
      throw new ZerolossError(
        "NO_TABLES",
        `no table of the source matches source.tables ${JSON.stringify(src.tables)}` + (src.exclude.length > 0 ? ` minus source.exclude ${JSON.stringify(src.exclude)}` : ""),
        { details: { setting: "source.tables" } },
      );
    }
    const infos: TableInfo[] = [];
    for (const n of names) infos.push(await describeTable(control, n));
    return infos;
  }

  private topicSpecs(tables: readonly TableInfo[]): TopicSpec[] {
    const k = this.o.config.kafka;
    const base = { replicationFactor: k.replicationFactor, configs: { "min.insync.replicas": String(k.minInsyncReplicas) } };
    return [
      ...tables.map((t) => ({ ...base, topic: this.topics.data(t.schema, t.name), partitions: k.partitions })),
      { ...base, topic: this.topics.manifests, partitions: 1 },
      { ...base, topic: this.topics.tallies, partitions: 1 },
      { ...base, topic: this.topics.dlq, partitions: 1 },
      { ...base, topic: this.topics.checkpoints, partitions: 1, configs: { ...base.configs, "cleanup.policy": "compact" } },
    ];
  }
}
