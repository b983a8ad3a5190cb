// The counter's refresh tick: marks complete transactions applied (and prunes old ones),
// probes Kafka's committed ends where tallies claim offsets not read yet, and summarises the
// ledger into the metrics and /healthz. On a connection of its own: its UPDATE may wait for
// the writer's row locks, and the API's reads must not queue behind it.
import type { Config } from "@zeroloss/config";
import { withDeadline } from "@zeroloss/errors";
import { kafkaError } from "@zeroloss/kafka";
import { connect, type Client } from "@zeroloss/pg";
import type { SlotState, Summary } from "@zeroloss/wire";
import type { Kafka } from "kafkajs";
import type { Logger } from "pino";
import type { CounterMetrics } from "./metrics.js";
import { claimsAhead, recordStableEnds } from "./stable-ends.js";
import { summary } from "./summary.js";
import { markAppliedTransactions } from "./transaction-states.js";

/**
 * The refresh asks Kafka for committed ends only while tallies claim unread offsets; that
 * probe gets this long. A Kafka outage must not hold up marking transactions applied, nor the
 * gauges behind it.
 */
const PROBE_DEADLINE_MS = 15_000;

export interface LedgerRefreshOptions {
  readonly config: Config;
  readonly kafka: Kafka;
  readonly metrics: CounterMetrics;
  readonly log: Logger;
  /** The last comparison of the replication slot with the producer's checkpoint (SlotWatch). */
  readonly slot: () => SlotState;
  /** Records a failure for /healthz and the error metrics. */
  readonly noteError: (err: unknown, what: string) => void;
}

export class LedgerRefresh {
  private client: Client | null = null;
  private running: Promise<Summary | null> | null = null;
  /** What the running refresh is doing, and since when: a refresh stuck in a step is reported. */
  private step: string | null = null;
  private started = 0;
  private slowReported = false;
  private lastSummary: Summary | null = null;
  private failedAt: number | null = null;

  constructor(private readonly o: LedgerRefreshOptions) {}

  /** The last summary a refresh made (null before the first). */
  get latest(): Summary | null {
    return this.lastSummary;
  }

  /** The last refresh failed (the ledger unreachable): /healthz is unhealthy until one succeeds. */
  get failing(): boolean {
    return this.failedAt !== null;
  }

  /** A refresh running longer than counter.slowRefreshSeconds, with its step; null otherwise. */
  get slow(): { step: string; runningSeconds: number } | null {
    return this.slowReported && this.step !== null ? { step: this.step, runningSeconds: Math.round((Date.now() - this.started) / 1000) } : null;
  }

  /**
   * Starts a refresh, or returns the running one: they used to pile up on one connection during
   * catch-ups, and /api/summary waited minutes behind them (the soak). One running for over
   * counter.slowRefreshSeconds is reported once, with the step it is in: no transaction is
   * marked applied meanwhile. A failure shows on /healthz until the next success.
   */
  refresh(): Promise<Summary | null> {
    if (this.running === null) {
      this.started = Date.now();
      this.slowReported = false;
      this.running = this.refreshOnce().finally(() => {
        this.running = null;
        this.step = null;
      });
    } else if (!this.slowReported && this.step !== null && Date.now() - this.started > this.o.config.counter.slowRefreshSeconds * 1000) {
      this.slowReported = true;
      this.o.log.warn({ step: this.step, runningMs: Date.now() - this.started }, `the ledger refresh is still ${this.step}; no transaction is marked applied until it ends`);
    }
    return this.running;
  }

  /** Waits for a running refresh and closes the connection. */
  async close(): Promise<void> {
    await this.running;
    await this.client?.end().catch(() => undefined); // closing at exit: nothing to report
    this.client = null;
  }

  private async refreshOnce(): Promise<Summary | null> {
    const { config, log } = this.o;
    try {
      this.client ??= await connect(config.counter.url, {
        applicationName: "zeroloss-counter-refresh",
        onIdleError: (err) => {
          log.debug({ err: err.message }, "the refresh's ledger connection failed; the next refresh reconnects");
          this.client = null;
        },
      });
      const db = this.client;
      this.step = "marking applied transactions";
      await markAppliedTransactions(db, config.counter.retainTransactionsSeconds, config.tallies.windowSize);
      this.step = "probing Kafka's committed ends";
      await withDeadline(this.probeStableEnds(db), PROBE_DEADLINE_MS, "probing Kafka's committed ends").catch((err: unknown) => {
        // Kafka's committed end is one proof among others: the summary, the gauges and the next
        // refresh go on without it (an outage must not stop the refresh).
        this.o.noteError(err, "probing Kafka's committed end");
      });
      this.step = "summarising the ledger";
      const s = await summary(db, config.counter.graceSeconds, this.o.slot());
      this.o.metrics.set(s);
      this.lastSummary = s;
      this.failedAt = null;
      return s;
    } catch (err) {
      this.o.noteError(err, "refreshing from the ledger");
      this.failedAt ??= Date.now();
      const c = this.client;
      this.client = null;
      await c?.end().catch(() => undefined); // its state is unknown after a failure
      return null;
    }
  }

  /**
   * Where committed tallies claim offsets the counter has not read yet, asks Kafka for the
   * partition's last stable offset (admin ListOffsets is read_committed). Claimed offsets at or
   * past it are proven missing: the tally committed with them, before this probe.
   */
  private async probeStableEnds(db: Client): Promise<void> {
    const ahead = await claimsAhead(db);
    if (ahead.length === 0) return;
    const admin = this.o.kafka.admin();
    const ends: { topic: string; partition: number; claimsTo: bigint; stableEnd: bigint }[] = [];
    try {
      await admin.connect();
      for (const topic of new Set(ahead.map((a) => a.topic))) {
        const offsets = await admin.fetchTopicOffsets(topic);
        for (const a of ahead.filter((x) => x.topic === topic)) {
          const o = offsets.find((x) => x.partition === a.partition);
          if (o !== undefined) ends.push({ ...a, stableEnd: BigInt(o.high) });
        }
      }
    } catch (err) {
      throw kafkaError(err, "reading the committed ends of partitions whose tallies claim unread offsets");
    } finally {
      await admin.disconnect();
    }
    await recordStableEnds(db, ends);
  }
}
