// The fault-injection harness: a pipeline (producer, consumer, counter as real processes) on
// the fault suite's own stack — 3 Kafka brokers (replication factor 3,
// min.insync.replicas=2), separate source and target PostgreSQL servers — a workload that
// keeps writing while faults happen, and the proof that must hold after every scenario:
//   1. the verifier reports zero drift, sustained;
//   2. the counter's windows all balance (none behind, in mismatch or attention);
//   3. no committed Kafka record is missing or doubled: per source transaction, Kafka holds
//      exactly the changes a witness slot (test_decoding, independent of the producer)
//      decoded, each once;
//   4. no target row's applied LSN ever went backwards (recorded during the whole run).
import pg from "pg";
import { expect } from "vitest";
import { pollUntil } from "@zeroloss/devstack";
import { parseLsn } from "@zeroloss/pg";
import type { Summary } from "@zeroloss/wire";
import { counterFixture, waitForSummary, type CounterFixture, type RunningCounter } from "../counter/harness.js";
import type { RunningProducer } from "../producer/harness.js";
import type { FaultStack } from "./stack.js";
import { runVerify } from "../verifier/harness.js";

/** The random source of a scenario run (ZEROLOSS_TEST_SEED repeats one). */
export const seed = Number(process.env["ZEROLOSS_TEST_SEED"] ?? Date.now() % 100_000);
export const random = rng(seed);

export const TABLES = ["public.accounts", "public.transfers"] as const;
const ACCOUNTS = 200;

/** A small seeded generator, so a failing run can be repeated with ZEROLOSS_TEST_SEED. */
export function rng(s0: number): () => number {
  let s = s0 >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export interface Workload {
  /** Source transactions committed so far. */
  readonly committed: () => number;
  /** Transactions cut off by a source outage (connection lost; in doubt, the witness decides). */
  readonly interrupted: () => number;
  /** Stops it and resolves with the number of transactions committed. */
  stop(): Promise<number>;
}

const CONNECTION_LOST = new Set(["57P01", "57P02", "57P03", "08000", "08001", "08003", "08006", "ECONNREFUSED", "ECONNRESET", "EPIPE"]);

/** The server went away (shut down, crashed, restarting): the kind of error an outage scenario expects. */
export function isConnectionLoss(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return (code !== undefined && CONNECTION_LOST.has(code)) || /Connection terminated|Client has encountered a connection error|not queryable/.test((err as Error).message ?? "");
}

/** A connected client, retrying while the server is away (up to 120 s). */
async function connectWhenUp(url: string, name: string): Promise<pg.Client> {
  return pollUntil(
    async () => {
      const c = new pg.Client({ connectionString: url, application_name: name, connectionTimeoutMillis: 2000 });
      c.on("error", () => undefined); // a dropped idle connection; the next query reports it
      try {
        await c.connect();
        return c;
      } catch (err) {
        await c.end().catch(() => undefined); // a client that never connected has nothing to close
        if (!isConnectionLoss(err)) throw err;
        return undefined;
      }
    },
    { timeoutMs: 120_000, intervalMs: 250, what: `${name} to connect to ${url.replace(/:[^:@/]*@/, ":***@")}` },
  );
}

/**
 * Transfers between accounts on 2 connections: each transaction moves money (two balance
 * updates in id order, one transfer row), every 10th also deletes the oldest transfer,
 * every 25th inserts 50 transfers at once (a larger transaction). With `tolerateOutage`, a
 * lost connection is counted and the worker reconnects; any other error ends the workload
 * and is reported by stop().
 */
export function startWorkload(url: string, random: () => number, o: { tolerateOutage?: boolean; pauseMs?: number } = {}): Workload {
  const pauseMs = o.pauseMs ?? 5;
  let stopping = false;
  let committed = 0;
  let interrupted = 0;
  const once = async (c: pg.Client) => {
    const n = committed + 1;
    const a = 1 + Math.floor(random() * ACCOUNTS);
    const b = 1 + ((a + Math.floor(random() * (ACCOUNTS - 1))) % ACCOUNTS);
    const amount = (1 + random() * 100).toFixed(2);
    await c.query("BEGIN");
    for (const [id, delta] of [
      [a, `-${amount}`],
      [b, amount],
    ].sort((x, y) => Number(x[0]) - Number(y[0]))) {
      await c.query("UPDATE accounts SET balance = balance + $2::numeric, updated = clock_timestamp() WHERE id = $1", [id, delta]);
    }
    await c.query("INSERT INTO transfers (from_id, to_id, amount, note) VALUES ($1, $2, $3, $4)", [a, b, amount, `transfer ${n}`]);
    if (n % 10 === 0) await c.query("DELETE FROM transfers WHERE id = (SELECT min(id) FROM transfers)");
    if (n % 25 === 0) {
      await c.query("INSERT INTO transfers (from_id, to_id, amount, note) SELECT $1, $2, 0.01, 'bulk ' || g FROM generate_series(1, 50) g", [a, b]);
    }
    await c.query("COMMIT");
    committed++;
  };
  const worker = async () => {
    let c = await connectWhenUp(url, "fault workload");
    try {
      while (!stopping) {
        try {
          await once(c);
        } catch (err) {
          if (!(o.tolerateOutage === true && isConnectionLoss(err))) throw err;
          interrupted++;
          await c.end().catch(() => undefined); // the connection is gone already
          c = await connectWhenUp(url, "fault workload");
          continue;
        }
        await new Promise((r) => setTimeout(r, pauseMs)); // a steady stream, not a flood: faults must land mid-stream
      }
    } finally {
      await c.end();
    }
  };
  const done = Promise.all([worker(), worker()]);
  return {
    committed: () => committed,
    interrupted: () => interrupted,
    async stop() {
      stopping = true;
      await done;
      return committed;
    },
  };
}

/** Polls the target's applied LSN of every row and remembers any that moved backwards; reconnects across a target outage. */
export class LsnWatch {
  private readonly highest = new Map<string, bigint>();
  readonly backwards: string[] = [];
  private running = true;
  private readonly loop: Promise<void>;
  reads = 0;
  outages = 0;

  /** `intervalMs`: how often every row is read (the soak, with a growing table, reads less often). */
  constructor(
    private readonly url: string,
    private readonly intervalMs = 200,
  ) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let target = await connectWhenUp(this.url, "fault LSN recorder");
    try {
      while (this.running) {
        let r: pg.QueryResult<{ k: string; lsn: string }>;
        try {
          r = await target.query<{ k: string; lsn: string }>(
            `SELECT 'accounts:' || id AS k, _zeroloss_lsn::text AS lsn FROM accounts
             UNION ALL SELECT 'transfers:' || id, _zeroloss_lsn::text FROM transfers`,
          );
        } catch (err) {
          if (isConnectionLoss(err)) {
            this.outages++;
            await target.end().catch(() => undefined); // the connection is gone already
            target = await connectWhenUp(this.url, "fault LSN recorder");
            continue;
          }
          if ((err as { code?: string }).code !== "42P01") throw err;
          await new Promise((resolve) => setTimeout(resolve, 200)); // the consumer has not created the target tables yet
          continue;
        }
        for (const { k, lsn } of r.rows) {
          const v = parseLsn(lsn);
          const before = this.highest.get(k);
          if (before !== undefined && v < before) this.backwards.push(`${k}: ${lsn} after ${before.toString(16)}`);
          if (before === undefined || v > before) this.highest.set(k, v);
        }
        this.reads++;
        await new Promise((resolve) => setTimeout(resolve, this.intervalMs)); // sampling interval of the recorder
      }
    } finally {
      await target.end();
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

export interface FaultFixture extends CounterFixture {
  /** A connection to the source database (a new one after sourceBack()). */
  readonly src: pg.Client;
  /** After a source outage: connects `src` again, waiting for the server. */
  sourceBack(): Promise<void>;
  readonly witness: string;
  /**
   * After a lost slot: the proof compares Kafka with the witness only for transactions that
   * committed after this LSN (the re-snapshot carries what came before). A record boundary:
   * read it with pg_current_wal_insert_lsn().
   */
  witnessFrom: string | null;
  /** Drops the witness slot (lost with the producer's) and creates it again. */
  renewWitness(): Promise<void>;
  producer: RunningProducer;
  consumers: RunningProducer[];
  counter: RunningCounter;
  /** Starts producer (with `producerEnv`), consumer (with `consumerEnv`) and counter; resolves once the producer streams. */
  startPipeline(o?: { producerEnv?: Record<string, string>; consumerEnv?: Record<string, string> }): Promise<void>;
  /** Waits until everything the source committed is in the target and every count agrees. */
  drain(): Promise<Summary>;
  /** The four checks of the header; throws with what failed. `changes` and `transactions`: what the witness decoded and Kafka was compared with. */
  prove(watch: LsnWatch): Promise<{ summary: Summary; changes: number; transactions: number }>;
}

export async function faultFixture(stack: { source: string; target: string; kafka: readonly string[] }, name: string): Promise<FaultFixture> {
  const base = await counterFixture(stack, name, {
    kafka: { partitions: 3, replicationFactor: 3, minInsyncReplicas: 2 },
    producer: { batchRecords: 200, lingerMs: 20 },
    tallies: { windowSize: 100 },
    counter: { graceSeconds: 900 },
    verify: { settleSeconds: 10, quietMs: 500 },
  });
  let src = base.sql;
  // The pinned source connection is idle most of the time: when a scenario takes the server
  // down, node-postgres emits the loss as an event. Expected in an outage; anything else is
  // reported by prove().
  const clientErrors: string[] = [];
  base.sql.on("error", (err: Error) => {
    if (!isConnectionLoss(err)) clientErrors.push(err.message);
  });
  await src.query(`CREATE TABLE accounts (id int PRIMARY KEY, balance numeric(18,2) NOT NULL, owner text NOT NULL, updated timestamptz NOT NULL)`);
  await src.query(`CREATE TABLE transfers (id bigserial PRIMARY KEY, from_id int NOT NULL, to_id int NOT NULL, amount numeric(18,2) NOT NULL, note text, at timestamptz NOT NULL DEFAULT now())`);
  await src.query(`INSERT INTO accounts SELECT i, 1000, 'owner ' || i, now() FROM generate_series(1, ${ACCOUNTS}) i`);
  const witness = `${base.slot}_w`;
  const f: FaultFixture = {
    ...base,
    get src() {
      return src;
    },
    async sourceBack() {
      await src.end().catch(() => undefined); // it died with the server
      src = await connectWhenUp(base.db.url, "fault source");
    },
    witness,
    witnessFrom: null,
    async renewWitness() {
      await src.query("SELECT pg_drop_replication_slot($1)", [witness]);
      await src.query("SELECT pg_create_logical_replication_slot($1, 'test_decoding')", [witness]);
    },
    producer: undefined as unknown as RunningProducer,
    consumers: [],
    counter: undefined as unknown as RunningCounter,
    async startPipeline(o = {}) {
      f.producer = await base.start([], o.producerEnv ?? {});
      f.consumers.push(await base.startConsumer(o.consumerEnv ?? {}));
      f.counter = await base.startCounter();
      await pollUntil(async () => ((await f.producer.health())?.body["status"] === "streaming" ? true : undefined), {
        timeoutMs: 60_000,
        what: "the producer to stream",
        abortIf: () => {
          if (f.producer.proc.exitCode !== null) throw new Error(`the producer exited ${f.producer.proc.exitCode}:\n${f.producer.output().slice(-3000)}`);
        },
      });
      // The witness decodes every change from here on, independently of the producer.
      await src.query("SELECT pg_create_logical_replication_slot($1, 'test_decoding')", [witness]);
    },
    async drain() {
      const lsn = (await src.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn")).rows[0]!.lsn;
      await pollUntil(
        async () => {
          const r = await src.query<{ ok: boolean }>("SELECT confirmed_flush_lsn >= $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $2", [lsn, base.slot]);
          return r.rows[0]?.ok === true ? true : undefined;
        },
        { timeoutMs: 90_000, what: `the producer to pass ${lsn}` },
      );
      const emitted = await f.producer.metric("zeroloss_producer_events_total");
      const summary = waitForSummary(
        f.counter,
        "every count to agree",
        (s) =>
          s.totals.transferred === s.totals.emitted &&
          s.totals.applied + s.totals.duplicate + s.totals.quarantined === s.totals.emitted &&
          s.totals.emitted >= (emitted ?? 0) &&
          s.windows.behind === 0 &&
          s.transactions.pending === 0 &&
          s.transactions.complete === 0,
        120_000,
      );
      return summary.catch(async (err: unknown) => {
        // What the ledger still waits for names the culprit (a manifest unread, records not found).
        const pending = await f.counter.api("/api/transactions?state=pending&limit=3");
        throw new Error(`${(err as Error).message}\npending transactions: ${JSON.stringify(pending).slice(0, 4000)}\nunsettled: ${await unsettled(base.ledger.url)}\ncounter /healthz: ${JSON.stringify((await f.counter.health())?.body ?? null).slice(0, 2000)}`);
      });
    },
    async prove(watch) {
      // Every check runs and every problem is reported, even when the counts never agreed.
      const problems: string[] = [];
      let summary: Summary | null = null;
      try {
        summary = await f.drain();
      } catch (err) {
        problems.push(`drain: ${(err as Error).message.slice(0, 6000)}`);
      }
      await watch.stop();

      // 1. content
      const verify = await runVerify(base.configFile, ["--json", "--sustain", "3"]);
      if (verify.code !== 0) problems.push(`verifier exit ${verify.code}: ${verify.stdout.slice(0, 3000)} ${verify.stderr.slice(-2000)}`);

      // 2. the counter
      const w = summary?.windows;
      if (summary !== null && w !== undefined && (!summary.ok || w.behind + w.mismatch + w.attention > 0)) {
        problems.push(`counter windows: ${JSON.stringify(w)}; ${JSON.stringify(summary.needsAttention.slice(0, 5))}`);
      }

      // 3. Kafka against the witness
      const witnessed = new Map<string, number>();
      const from = f.witnessFrom === null ? null : parseLsn(f.witnessFrom);
      const changes = await src.query<{ lsn: string; xid: string; data: string }>("SELECT lsn::text AS lsn, xid::text AS xid, data FROM pg_logical_slot_peek_changes($1, NULL, NULL)", [witness]);
      // test_decoding gives a commit the LSN of its record's end, the envelope the record's
      // start; `from` lies on a record boundary, so a commit ending at or before it started before it.
      const before = new Set(from === null ? [] : changes.rows.filter((c) => c.data.startsWith("COMMIT") && parseLsn(c.lsn) <= from).map((c) => c.xid));
      for (const c of changes.rows) if (c.data.startsWith("table ") && !before.has(c.xid)) witnessed.set(c.xid, (witnessed.get(c.xid) ?? 0) + 1);
      const inKafka = new Map<string, number>();
      const seen = new Map<string, string>();
      const doubledExamples: string[] = [];
      let doubled = 0;
      let unwitnessed = 0;
      for (const table of TABLES) {
        for (const { envelope: e, partition, offset } of await base.records(table)) {
          if (e.op === "r") continue; // snapshot rows: before the witness; the verifier covers them
          if (from !== null && parseLsn(e.source.commitLsn) < from) continue; // before the re-snapshot: not compared
          const id = `${e.source.commitLsn}/${e.source.seq}`;
          const where = `${table} xid ${e.source.xid} seq ${e.source.seq} at partition ${partition} offset ${offset}`;
          const first = seen.get(id);
          if (first !== undefined) {
            doubled++;
            if (doubledExamples.length < 5) doubledExamples.push(`${where} (first at ${first})`);
          }
          seen.set(id, `partition ${partition} offset ${offset}`);
          const xid = String(e.source.xid);
          if (!witnessed.has(xid)) unwitnessed++;
          inKafka.set(xid, (inKafka.get(xid) ?? 0) + 1);
        }
      }
      const missing = [...witnessed].filter(([xid, n]) => (inKafka.get(xid) ?? 0) !== n);
      if (doubled > 0) problems.push(`${doubled} change(s) committed to Kafka twice, e.g. ${doubledExamples.join("; ")}`);
      if (unwitnessed > 0) problems.push(`${unwitnessed} Kafka record(s) of transactions the witness never decoded`);
      if (missing.length > 0) problems.push(`${missing.length} transaction(s) whose Kafka records differ from the witness, e.g. ${missing.slice(0, 8).map(([x, n]) => `xid ${x}: witness ${n}, Kafka ${inKafka.get(x) ?? 0}`).join("; ")}`);
      if (witnessed.size === 0) problems.push("the witness decoded nothing: the workload did not run");

      if (clientErrors.length > 0) problems.push(`the test's source connection failed: ${clientErrors.join("; ")}`);

      // 4. applied LSNs
      if (watch.reads < 2) problems.push(`the LSN recorder read the target only ${watch.reads} time(s)`);
      if (watch.backwards.length > 0) problems.push(`applied LSN went backwards: ${watch.backwards.slice(0, 5).join("; ")}`);

      if (problems.length > 0 || summary === null) {
        const warnings = [f.producer, ...f.consumers].flatMap((p) => p.output().split("\n").filter((l) => /"level":(40|50|60)/.test(l))).slice(-30);
        throw new Error(`the proof failed:\n- ${problems.join("\n- ")}\nwarnings and errors of the producer and consumers:\n${warnings.join("\n")}`);
      }
      return { summary, changes: [...witnessed.values()].reduce((a, b) => a + b, 0), transactions: witnessed.size };
    },
    async close() {
      await src.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", [witness]);
      if (src !== base.sql) await src.end(); // base.close() ends its own
      await base.close();
    },
  };
  return f;
}

/** Waits (under load) until a service's counter metric passes `atLeast`. */
export async function progressed(svc: RunningProducer, metric: string, atLeast: number, what: string): Promise<void> {
  let last: number | null = null;
  await pollUntil(
    async () => {
      last = await svc.metric(metric);
      return (last ?? 0) >= atLeast ? true : undefined;
    },
    {
      timeoutMs: 90_000,
      intervalMs: 100,
      what,
      abortIf: () => {
        if (svc.proc.exitCode !== null || svc.proc.signalCode !== null) throw new Error(`${what}: the service exited:\n${svc.output().slice(-3000)}`);
      },
    },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message} (${metric} at ${String(last)}, wanted ${atLeast}); the service's last output:\n${svc.output().slice(-6000)}`);
  });
}

/** One scenario: a fresh fixture, the pipeline started (`start` arms failpoints), the LSN recorder and the workload running while `body` injects its faults, then the proof. */
export async function scenario(
  stack: FaultStack,
  name: string,
  body: (f: FaultFixture, load: Workload) => Promise<void>,
  start: Parameters<FaultFixture["startPipeline"]>[0] = {},
  options: {
    tolerateOutage?: boolean;
    prepare?: (f: FaultFixture) => void;
    workloadPauseMs?: number;
    watchIntervalMs?: number;
    /** After the workload stopped, before the proof: a recovery step the operator would take. */
    beforeProof?: (f: FaultFixture) => Promise<void>;
  } = {},
): Promise<void> {
  const f = await faultFixture(stack, name);
  options.prepare?.(f);
  let watch: LsnWatch | undefined;
  let load: Workload | undefined;
  let proven = false;
  try {
    await f.startPipeline(start);
    watch = new LsnWatch(f.targetDb.url, options.watchIntervalMs);
    load = startWorkload(f.db.url, random, { tolerateOutage: options.tolerateOutage ?? false, ...(options.workloadPauseMs === undefined ? {} : { pauseMs: options.workloadPauseMs }) });
    await body(f, load);
    const transactions = await load.stop();
    await options.beforeProof?.(f);
    const proof = await f.prove(watch);
    expect(transactions).toBeGreaterThan(0);
    // Two balance updates and a transfer at least, per workload transaction (after a lost
    // slot, per transaction compared: those before the re-snapshot are not).
    expect(proof.changes).toBeGreaterThanOrEqual((f.witnessFrom === null ? transactions : proof.transactions) * 3);
    proven = true;
  } finally {
    // After a failure the scenario's own error is the one to see; the recorder's and the workload's go to stderr.
    const secondary = (what: string) => (err: unknown) => {
      if (proven) throw err;
      console.error(`${what} after the scenario failed:`, err);
    };
    await load?.stop().catch(secondary("the workload"));
    await watch?.stop().catch(secondary("the LSN recorder"));
    await f.close();
  }
}


/**
 * Keeps a fault in place for `ms`. The length of an outage is the scenario itself (session
 * and request timeouts must run out), not a wait for a condition.
 */
export function holdFault(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Complete transactions the counter has not settled as applied, each beside the written and
 * skipped offsets of the windows its records lie in: what a drain that timed out on them
 * needs to name the offsets the consumer's tallies never covered.
 */
async function unsettled(ledgerUrl: string): Promise<string> {
  const db = new pg.Client({ connectionString: ledgerUrl });
  try {
    await db.connect();
    const r = await db.query<{ txn: string; k: string; offsets: string; windows: string | null }>(
      `SELECT t.commit_lsn::text || ' xid ' || COALESCE(t.xid::text, '?') AS txn, o.k, o.v AS offsets,
              (SELECT string_agg(w.window_start || ': transferred ' || w.transferred_offsets::text || ' written ' || w.written_offsets::text || ' skipped ' || w.skipped_offsets::text, '; ' ORDER BY w.window_start)
                 FROM zeroloss_counter.windows w
                WHERE w.topic = split_part(o.k, ':', 1) AND w.partition = split_part(o.k, ':', 2)::int
                  AND w.window_start + w.window_size > lower(o.v::int8multirange) AND w.window_start < upper(o.v::int8multirange)) AS windows
         FROM (SELECT * FROM zeroloss_counter.transactions WHERE applied_at IS NULL AND complete_at IS NOT NULL ORDER BY commit_lsn LIMIT 3) t
        CROSS JOIN LATERAL jsonb_each_text(COALESCE(t.offsets, '{}')) o(k, v)`,
    );
    // A settling refresh stuck behind a lock shows here, not in the offsets.
    const sessions = await db.query<{ s: string }>(
      `SELECT application_name || ' ' || state || COALESCE(' waiting on ' || wait_event_type || ':' || wait_event, '') || ' for ' || (now() - query_start)::text || ': ' || left(query, 80) AS s
         FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    const txns = r.rows.map((x) => `\n  ${x.txn} ${x.k} at ${x.offsets} | ${x.windows ?? "no window"}`).join("").slice(0, 6000) || "none";
    return `${txns}\nledger sessions:${sessions.rows.map((x) => `\n  ${x.s}`).join("")}`;
  } catch (err) {
    return `(the ledger could not be read: ${(err as Error).message})`;
  } finally {
    await db.end().catch(() => undefined);
  }
}
