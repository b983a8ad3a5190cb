// The life of a service that is a Kafka consumer group: the consumer (data topics → target)
// and the counter (data, tallies and manifests → ledger) share it, and differ only in what
// they bring. Here: set up once, retrying what is retriable; follow the wanted topics,
// rejoining the group when they change (followTopics); join read_committed, never creating
// topics, never auto-committing or auto-resolving (a batch not written is never committed);
// end the service when kafkajs gives up or the service reports a failure it cannot cure;
// leave the group at the end. The phase is what /healthz shows.
import { Sleeper, type Backoff, type ZerolossError } from "@zeroloss/errors";
import type { Consumer, ConsumerConfig, EachBatchPayload, Kafka } from "kafkajs";
import type { Logger } from "pino";
import { kafkaError } from "./client.js";
import { followTopics } from "./follow.js";

export type GroupPhase = "starting" | "waiting-for-topics" | "running" | "stopped" | "failed";

export interface GroupServiceOptions {
  readonly kafka: Kafka;
  readonly log: Logger;
  readonly groupId: string;
  readonly sessionTimeoutMs: number;
  /** How often the topics are listed again. */
  readonly topicPollMs: number;
  /** Partition batches handed over at once (kafkajs's partitionsConsumedConcurrently). */
  readonly concurrency: number;
  /** Fetch sizes and the like, on top of the fixed settings. */
  readonly consumer?: Partial<Pick<ConsumerConfig, "maxBytes" | "maxBytesPerPartition" | "maxWaitTimeInMs">>;
  /** The topics wanted, from all the cluster's topics (sorted). */
  readonly wants: (topic: string) => boolean;
  /** Once before joining (bookkeeping tables, the ledger); retried while its failure is retriable. */
  readonly setUp: () => Promise<void>;
  readonly eachBatch: (payload: EachBatchPayload) => Promise<void>;
  /** Registers the service's own listeners on each new kafkajs consumer (GROUP_JOIN, END_BATCH_PROCESS). */
  readonly listen?: (group: Consumer) => void;
  /** Turns a failure into a ZerolossError and records it (metrics, health); `what` says what failed. */
  readonly noteError: (err: unknown, what: string) => ZerolossError;
  /** For logs and errors: "the consumer group", "the counter's consumer group". */
  readonly groupName: string;
  /** Logged once while none of the wanted topics exists. */
  readonly noTopicsMessage: string;
  readonly what: string;
  /** A fresh backoff for retries (set-up, joining, the service's batches). */
  readonly backoff: () => Backoff;
}

export class GroupService {
  phase: GroupPhase = "starting";
  private stopping = false;
  private failure: ZerolossError | null = null;
  private current: Consumer | null = null;
  readonly sleeper = new Sleeper();

  constructor(private readonly o: GroupServiceOptions) {}

  /** The kafkajs consumer while in the group (for seek and commitOffsets), else null. */
  get group(): Consumer | null {
    return this.current;
  }

  /** True once stop() was called: batch handlers give up their batch (not committed anywhere). */
  get stopped(): boolean {
    return this.stopping;
  }

  /** A fresh backoff with the service's bounds. */
  backoff(): Backoff {
    return this.o.backoff();
  }

  /** Runs until stop() or a failure; throws a non-retriable failure, after leaving the group. */
  async run(): Promise<void> {
    const retry = this.backoff();
    try {
      while (!this.stopping) {
        try {
          await this.o.setUp();
          break;
        } catch (err) {
          const e = this.o.noteError(err, "setting up");
          if (!e.retriable) throw e;
          await this.sleeper.sleep(retry.next());
        }
      }
      await followTopics({
        wanted: () => this.wantedTopics(),
        start: (topics) => this.join(topics),
        stop: () => this.leave(),
        running: () => !this.stopping && this.failure === null,
        sleeper: this.sleeper,
        retry,
        pollMs: this.o.topicPollMs,
        noteError: (err, what) => this.o.noteError(err, what),
        onNoTopics: () => {
          if (this.phase !== "waiting-for-topics") this.o.log.info(this.o.noTopicsMessage);
          this.phase = "waiting-for-topics";
        },
        groupName: this.o.groupName,
      });
      if (this.failure !== null) throw this.failure;
      this.phase = "stopped";
    } catch (err) {
      this.phase = "failed";
      throw err;
    } finally {
      await this.leave();
    }
  }

  stop(): void {
    this.stopping = true;
    this.sleeper.wake(true);
  }

  /** A failure no retry cures: run() ends with it. */
  fail(err: ZerolossError): void {
    this.failure = err;
    this.sleeper.wake();
  }

  private async wantedTopics(): Promise<string[]> {
    const admin = this.o.kafka.admin();
    try {
      await admin.connect();
      return (await admin.listTopics()).filter((t) => this.o.wants(t)).sort();
    } catch (err) {
      throw kafkaError(err, "listing Kafka topics");
    } finally {
      await admin.disconnect();
    }
  }

  private async join(topics: string[]): Promise<void> {
    const group = this.o.kafka.consumer({
      groupId: this.o.groupId,
      sessionTimeout: this.o.sessionTimeoutMs,
      heartbeatInterval: Math.min(3_000, Math.floor(this.o.sessionTimeoutMs / 10)),
      readUncommitted: false,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 250,
      ...this.o.consumer,
    });
    this.current = group;
    group.on(group.events.CRASH, (e) => {
      const err = kafkaError(e.payload.error, `${this.o.groupName}'s Kafka consumer crashed`);
      this.o.noteError(err, e.payload.restart ? "the Kafka consumer restarts" : "the Kafka consumer gave up");
      if (!e.payload.restart) this.fail(err);
    });
    this.o.listen?.(group);
    try {
      await group.connect();
      await group.subscribe({ topics, fromBeginning: true });
      await group.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.o.concurrency,
        eachBatch: (payload) => this.o.eachBatch(payload),
      });
    } catch (err) {
      throw kafkaError(err, `${this.o.what} ${topics.length} topic(s) as group ${this.o.groupId}`);
    }
    this.phase = "running";
    this.o.log.info({ group: this.o.groupId, topics }, this.o.what);
  }

  private async leave(): Promise<void> {
    const g = this.current;
    this.current = null;
    if (g === null) return;
    await g.disconnect().catch((err: unknown) => this.o.log.warn({ err: kafkaError(err, "leaving the group").message }, `leaving ${this.o.groupName}`));
  }
}
