// How far the counter trails the consumer at the pipeline's top rate.
//
// One stack (source and target PostgreSQL, 1 Kafka broker, all on 127.0.0.1); the producer,
// the consumer and the counter run as processes (`services/*/dist/main.js`), the counter's
// ledger on the target (its default). Each phase gets fresh databases and a fresh topic prefix:
//
//   snapshot  a source with ROWS benchmark rows (bench/common.mjs) and `pgbench -i -s
//             PGBENCH_SCALE` tables (pgbench_history given `hid bigserial PRIMARY KEY`), all
//             published, loaded before the producer starts, so its initial snapshot emits them
//             (ROWS + the pgbench tables' rows). Once the producer reports `snapshotting`,
//             `pgbench -c PGBENCH_CLIENTS -T PGBENCH_SECONDS -n` runs at full speed, then more
//             such runs back to back (-T 30 while the snapshot lasts, then the rest of
//             PGBENCH_AFTER_S): pgbench runs during the snapshot and PGBENCH_AFTER_S after it;
//   backlog   bench:e2e's backlog (bench/e2e/workload.mjs): CHANGES row changes in transactions
//             of TXN written while no pipeline runs (its slot and publication exist), then
//             drained.
//
// Every SAMPLE_MS, one query on the target (one snapshot) reads, per data partition, the
// consumer's written position (zeroloss.applied_positions.next_offset) and what the counter
// knows: its read position (zeroloss_counter.positions.next_offset) and the highest offset
// its counted written tallies cover (max(upper(written_offsets)) of zeroloss_counter.windows).
// The lag of a partition at time t = t minus the earliest sample time at which the consumer's
// position exceeded what the counter knows at t (0 when the counter is level). Offsets that
// hold no record (commit markers) let a position sit up to MARKER_SLACK offsets past the last
// record (consumer and counter stop at different sides of a marker, and written tallies end at
// the last record), so "exceeded" means by more than MARKER_SLACK. Each sample keeps the
// maximum over partitions, for the read position and for the written tallies. A phase ends
// when the load is done, the consumer's positions have stood still for SETTLE_S and the
// counter is level on every partition (or at TIMEOUT_S: then the figures are lower bounds).
//
// Alongside, each second: `zeroloss status --json` (STATUS=cli, the default; STATUS=api reads
// /api/summary directly, STATUS=off none) with its exit code and summary, every moment with a
// window in mismatch, ok=false or the counter unreachable is recorded; the services' /metrics
// (records emitted, written, counted); CPU and memory of every process tree. Every
// ACTIVITY_MS, the target's pg_stat_activity (what each ledger connection is doing: a
// sampling profile of the database side). With STATEMENTS=1 (default) pg_stat_statements on
// the target, reset at each phase's start. With TRACE=1 (default) the counter runs with
// bench/counter/trace.mjs preloaded: its ledger transactions split by statement, batches per
// transaction, waits in the group commit's linger, and its kafkajs fetch loop.
//
// Goal (the issue): the counter trails the consumer's written offsets by at most GOAL_S (5) s,
// for both the read position and the written tallies, and `zeroloss status` never reports a
// mismatch or ok=false. Exit 0 when met, 1 when not (the figures are printed either way),
// 2 when the benchmark itself failed.
//
// Usage: npm run bench:counter
//        PHASES=snapshot,backlog ROWS=1000000 PGBENCH_SCALE=10 PGBENCH_CLIENTS=4 PGBENCH_SECONDS=120 PGBENCH_AFTER_S=60 \
//        CHANGES=300000 TXN=1000 GOAL_S=5 SAMPLE_MS=1000 ACTIVITY_MS=250 MARKER_SLACK=2 SETTLE_S=5 \
//        TIMEOUT_S=1500 STATUS=cli STATEMENTS=1 TRACE=1 node bench/counter/run.mjs
//        ZEROLOSS_CONFIG='{"counter":{"lingerMs":0}}'  merges keys into the config's sections (experiments)
//        COUNTER_CONSUMER='{"maxBytesPerPartition":8388608}' / COUNTER_LANES=32  kafkajs options of
//            the counter's consumer, set by trace.mjs (experiments; needs TRACE=1)
//        PROFILE_DIR=/tmp/prof  node --cpu-prof on the counter (read with bench/profile-top.mjs)
//        LOG_DIR=<dir>  where the services' logs go (default: a temp folder, printed on failure)
// Writes bench/results/counter-lag.json (OUT=<file> elsewhere) and prints a summary.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import pg from "pg";
import { freePort } from "@zeroloss/devstack";
import { createLogger, parseMetrics, sumOf } from "@zeroloss/observability";
import { Processes, ProcessSampler, startTunedStack, TABLE_DDL, coresBusy, machineCpu, dropDatabase, fmt, freshDatabase, insertBacklog, newSummary, sql, until, versionOf, warmUpTransactions } from "../common.mjs";
import { SCHEMA_SQL, TABLES as BACKLOG_TABLES, backlog } from "../e2e/workload.mjs";
import { label } from "./labels.mjs";

const env = process.env;
const int = (name, dflt) => {
  const v = Number(env[name] ?? dflt);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer, got ${env[name]}`);
  return v;
};
const PHASES = (env.PHASES ?? "snapshot,backlog").split(",").map((s) => s.trim()).filter((s) => s !== "");
const ROWS = int("ROWS", 1_000_000);
const PGBENCH_SCALE = int("PGBENCH_SCALE", 10);
const PGBENCH_CLIENTS = int("PGBENCH_CLIENTS", 4);
const PGBENCH_SECONDS = int("PGBENCH_SECONDS", 120);
const PGBENCH_AFTER_S = int("PGBENCH_AFTER_S", 60);
const CHANGES = int("CHANGES", 300_000);
const TXN = int("TXN", 1000);
const GOAL_S = Number(env.GOAL_S ?? 5);
const SAMPLE_MS = int("SAMPLE_MS", 1000);
const ACTIVITY_MS = int("ACTIVITY_MS", 250);
const MARKER_SLACK = int("MARKER_SLACK", 2);
const SETTLE_S = int("SETTLE_S", 5);
const TIMEOUT_MS = int("TIMEOUT_S", 1500) * 1000;
const STATUS = env.STATUS ?? "cli";
const STATEMENTS = (env.STATEMENTS ?? "1") === "1";
const TRACE = (env.TRACE ?? "1") === "1";
const ZEROLOSS_CONFIG = JSON.parse(env.ZEROLOSS_CONFIG ?? "{}");
const COUNTER_CONSUMER = env.COUNTER_CONSUMER ?? null;
const COUNTER_LANES = env.COUNTER_LANES ?? null;
const PROFILE_DIR = env.PROFILE_DIR ? resolve(env.PROFILE_DIR) : null;
const OUT = resolve(env.OUT ?? join(import.meta.dirname, "../results/counter-lag.json"));
const PG_BIN = env.PG_BIN ?? "/usr/lib/postgresql/15/bin";
const PARTITIONS = 6;
const MAIN = (name) => resolve(import.meta.dirname, `../../services/${name}/dist/main.js`);
const CLI = resolve(import.meta.dirname, "../../packages/cli/bin/zeroloss.js");
const TRACE_MODULE = resolve(import.meta.dirname, "trace.mjs");

for (const p of PHASES) if (p !== "snapshot" && p !== "backlog") throw new Error(`PHASES: ${p} is not snapshot or backlog`);
if (!["cli", "api", "off"].includes(STATUS)) throw new Error(`STATUS must be cli, api or off, got ${STATUS}`);
if ((COUNTER_CONSUMER !== null || COUNTER_LANES !== null) && !TRACE) throw new Error("COUNTER_CONSUMER and COUNTER_LANES are set by trace.mjs: they need TRACE=1");
if (!(GOAL_S > 0) || SAMPLE_MS < 100 || ROWS < 1 || CHANGES < 1 || TXN < 1) throw new Error("GOAL_S, ROWS, CHANGES and TXN must be positive, SAMPLE_MS at least 100");

const log = createLogger({ name: "bench-counter", level: "warn", pretty: true });
const procs = new Processes();
const work = env.LOG_DIR ? resolve(env.LOG_DIR) : mkdtempSync(join(tmpdir(), "zeroloss-bench-counter-"));
mkdirSync(work, { recursive: true });
if (PROFILE_DIR !== null) mkdirSync(PROFILE_DIR, { recursive: true });
const seconds = (ms) => Number((ms / 1000).toFixed(1));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms)); // sampling intervals, not waits for a condition

// --- the stack ---------------------------------------------------------------------------------

function startStack() {
  const targetSettings = STATEMENTS ? { shared_preload_libraries: "pg_stat_statements", "pg_stat_statements.track": "top" } : {};
  return startTunedStack(procs, { env, log, targetSettings });
}

const stackRoots = (stack) => ({ "postgres-source": stack.source.process.pid, "postgres-target": stack.target.process.pid, kafka: stack.kafka.nodes[0].process.pid });

// --- the pipeline ----------------------------------------------------------------------------------

async function startPipeline(stack, phase, source, targetUrl) {
  const ports = { producer: await freePort(), consumer: await freePort(), counter: await freePort() };
  const config = {
    source,
    target: { url: targetUrl },
    kafka: { brokers: [...stack.kafka.brokers], topicPrefix: `zlc-${phase}`, partitions: PARTITIONS },
    producer: { http: { port: ports.producer, host: "127.0.0.1" } },
    consumer: { group: `zlc-${phase}`, http: { port: ports.consumer, host: "127.0.0.1" } },
    counter: { url: targetUrl, group: `zlc-${phase}-counter`, http: { port: ports.counter, host: "127.0.0.1" } },
    log: { level: "warn" },
  };
  for (const [section, values] of Object.entries(ZEROLOSS_CONFIG)) config[section] = { ...config[section], ...values };
  const file = join(work, `zeroloss-${phase}.yaml`);
  writeFileSync(file, JSON.stringify(config, null, 2)); // JSON is YAML
  const traceFile = join(work, `counter-trace-${phase}.json`);
  const started = {};
  for (const name of ["producer", "consumer", "counter"]) {
    const args = ["--disable-warning=TimeoutNegativeWarning"];
    const childEnv = { ...process.env };
    if (name === "counter") {
      if (PROFILE_DIR !== null) args.push("--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=counter-${phase}.cpuprofile`);
      if (TRACE) {
        args.push("--import", TRACE_MODULE);
        childEnv.ZEROLOSS_BENCH_TRACE = traceFile;
        if (COUNTER_CONSUMER !== null) childEnv.ZEROLOSS_BENCH_COUNTER_CONSUMER = COUNTER_CONSUMER;
        if (COUNTER_LANES !== null) childEnv.ZEROLOSS_BENCH_COUNTER_LANES = COUNTER_LANES;
      }
    }
    started[name] = procs.run(process.execPath, [...args, MAIN(name), "--config", file], { env: childEnv }, join(work, `${name}-${phase}.log`));
  }
  return {
    ports,
    config,
    pids: Object.fromEntries(Object.entries(started).map(([k, r]) => [k, r.child.pid])),
    assertRunning() {
      for (const [name, r] of Object.entries(started)) {
        if (r.child.exitCode !== null || r.child.signalCode !== null) throw new Error(`${name} exited (${r.child.exitCode ?? r.child.signalCode}):\n${r.output().slice(-3000)}`);
      }
    },
    async stop() {
      for (const name of ["counter", "consumer", "producer"]) await procs.stop(started[name]);
    },
    trace() {
      return TRACE && existsSync(traceFile) ? JSON.parse(readFileSync(traceFile, "utf8")) : null;
    },
  };
}

async function scrape(port, timeoutMs = 2000) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    return parseMetrics(await res.text());
  } catch {
    return null; // not listening yet, or busy: this sample has no figure for it
  }
}

/**
 * The services' /metrics, scraped every SAMPLE_MS in the background: a busy service answering
 * late must not delay the position samples. Each sample takes the latest answer.
 */
class MetricsPoller {
  latest = { producer: null, consumer: null, counter: null };
  #stop = false;
  #loops = [];

  start(ports) {
    for (const name of Object.keys(this.latest)) {
      this.#loops.push(
        (async () => {
          while (!this.#stop) {
            const at = performance.now();
            const m = await scrape(ports[name], 5000);
            if (m !== null) this.latest[name] = m;
            const wait = SAMPLE_MS - (performance.now() - at);
            if (wait > 0) await sleep(wait);
          }
        })(),
      );
    }
    return this;
  }

  async stop() {
    this.#stop = true;
    await Promise.all(this.#loops);
  }
}

function phaseOf(samples) {
  if (samples === null) return null;
  const on = samples.find((s) => s.name === "zeroloss_producer_phase" && s.value === 1);
  return on?.labels.phase ?? null;
}

// --- lag: what the counter knows against what the consumer has written ---------------------------

const POSITIONS_SQL = `/* bench-counter */ SELECT a.topic, a.partition, a.next_offset::text AS consumer,
       p.next_offset::text AS counter_read, w.written::text AS counter_written
  FROM zeroloss.applied_positions a
  LEFT JOIN zeroloss_counter.positions p USING (topic, partition)
  LEFT JOIN (SELECT topic, partition, max(upper(written_offsets)) AS written FROM zeroloss_counter.windows GROUP BY topic, partition) w USING (topic, partition)`;
const CONSUMER_ONLY_SQL = `/* bench-counter */ SELECT topic, partition, next_offset::text AS consumer, NULL AS counter_read, NULL AS counter_written FROM zeroloss.applied_positions`;
const TABLES_SQL = `/* bench-counter */ SELECT to_regclass('zeroloss.applied_positions') IS NOT NULL AS consumer, to_regclass('zeroloss_counter.windows') IS NOT NULL AND to_regclass('zeroloss_counter.positions') IS NOT NULL AS counter`;

/** Per partition: the consumer's positions over time (they never go back: GREATEST in its upsert). */
class PositionHistory {
  #byPartition = new Map();

  add(key, t, position) {
    let h = this.#byPartition.get(key);
    if (h === undefined) this.#byPartition.set(key, (h = { ts: [], ps: [] }));
    const last = h.ps[h.ps.length - 1];
    if (last !== undefined && position <= last) return; // only the times it moved matter
    h.ts.push(t);
    h.ps.push(position);
  }

  /** Seconds since the consumer's position first exceeded `known` + MARKER_SLACK; 0 when it has not. */
  lag(key, t, known) {
    const h = this.#byPartition.get(key);
    if (h === undefined) return 0;
    const bar = known + MARKER_SLACK;
    if (h.ps[h.ps.length - 1] <= bar) return 0;
    let lo = 0;
    let hi = h.ps.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (h.ps[mid] > bar) hi = mid;
      else lo = mid + 1;
    }
    return Number((t - h.ts[lo]).toFixed(3));
  }
}

class Sampler {
  samples = [];
  errors = [];
  #history = new PositionHistory();
  #db = null;
  #tables = { consumer: false, counter: false };
  #stop = false;
  #loop = null;

  constructor(targetUrl, pipeline, t0, extra) {
    this.targetUrl = targetUrl;
    this.pipeline = pipeline;
    this.t0 = t0;
    this.extra = extra; // () => fields added to each sample (pgbench running, …)
  }

  async start() {
    this.#db = new pg.Client({ connectionString: this.targetUrl, application_name: "bench-counter-sampler" });
    await this.#db.connect();
    this.metrics = new MetricsPoller().start(this.pipeline.ports);
    this.#loop = (async () => {
      let next = performance.now();
      while (!this.#stop) {
        try {
          await this.tick();
        } catch (err) {
          this.errors.push(`${seconds(performance.now() - this.t0)} s: ${err.message}`); // a lost sample, not a lost run
        }
        next += SAMPLE_MS;
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        else next = performance.now(); // a slow tick: the next one starts now, not in a burst
      }
    })();
    return this;
  }

  async stop() {
    this.#stop = true;
    await this.#loop;
    await this.metrics?.stop();
    await this.#db?.end();
  }

  async positions() {
    if (!this.#tables.consumer || !this.#tables.counter) this.#tables = (await this.#db.query(TABLES_SQL)).rows[0];
    if (!this.#tables.consumer) return [];
    return (await this.#db.query(this.#tables.counter ? POSITIONS_SQL : CONSUMER_ONLY_SQL)).rows;
  }

  async tick() {
    const at = performance.now();
    const t = Number(((at - this.t0) / 1000).toFixed(3));
    const rows = await this.positions();
    const { producer: p, consumer: c, counter: k } = this.metrics.latest;
    let lagRead = 0;
    let lagWritten = 0;
    let worstRead = null;
    let worstWritten = null;
    let behindRead = 0;
    let behindWritten = 0;
    let consumerSum = 0;
    for (const r of rows) {
      const key = `${r.topic}[${r.partition}]`;
      const consumer = Number(r.consumer);
      const read = Number(r.counter_read ?? 0);
      const written = Number(r.counter_written ?? 0);
      this.#history.add(key, t, consumer);
      consumerSum += consumer;
      behindRead += Math.max(0, consumer - MARKER_SLACK - read);
      behindWritten += Math.max(0, consumer - MARKER_SLACK - written);
      const lr = this.#history.lag(key, t, read);
      const lw = this.#history.lag(key, t, written);
      if (lr > lagRead) [lagRead, worstRead] = [lr, key];
      if (lw > lagWritten) [lagWritten, worstWritten] = [lw, key];
    }
    const s = {
      t,
      lagRead,
      lagWritten,
      worstRead,
      worstWritten,
      partitions: rows.length,
      consumerOffsets: consumerSum,
      behindRead,
      behindWritten,
      producerPhase: phaseOf(p),
      emitted: p === null ? null : sumOf(p, "zeroloss_producer_events_total"),
      written: c === null ? null : sumOf(c, "zeroloss_consumer_records_total"),
      countedData: k === null ? null : sumOf(k, "zeroloss_ledger_records_read_total", { kind: "data" }),
      countedTallies: k === null ? null : sumOf(k, "zeroloss_ledger_records_read_total", { kind: "tallies" }),
      countedManifests: k === null ? null : sumOf(k, "zeroloss_ledger_records_read_total", { kind: "manifests" }),
      sampleMs: Math.round(performance.now() - at),
      ...this.extra(),
    };
    this.samples.push(s);
    return s;
  }
}

// --- zeroloss status, each second -------------------------------------------------------------------

class StatusSampler {
  records = [];
  skipped = 0;
  #stop = false;
  #loop = null;
  #answered = false;

  constructor(pipeline, t0) {
    this.pipeline = pipeline;
    this.t0 = t0;
  }

  start() {
    if (STATUS === "off") return this;
    this.#loop = (async () => {
      let next = performance.now();
      while (!this.#stop) {
        await this.once();
        next += 1000;
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        else {
          this.skipped += Math.floor(-wait / 1000); // seconds in which no status could start: the previous one still ran
          next = performance.now();
        }
      }
    })();
    return this;
  }

  async stop() {
    this.#stop = true;
    await this.#loop;
  }

  async once() {
    const at = performance.now();
    const t = Number(((at - this.t0) / 1000).toFixed(3));
    const url = `http://127.0.0.1:${this.pipeline.ports.counter}`;
    let exit;
    let s = null;
    let error = null;
    if (STATUS === "cli") {
      const child = procs.run(process.execPath, [CLI, "status", "--json", "--url", url]);
      let stdout = ""; // the JSON alone: `out` holds stderr too (kafkajs's warnings, a Node notice)
      child.child.stdout.on("data", (d) => (stdout += d));
      const r = await child.exited;
      exit = r.code ?? 2;
      if (exit === 0 || exit === 1) {
        try {
          s = JSON.parse(stdout);
        } catch {
          error = `unparsable output: ${r.out.slice(0, 300)}`;
        }
      } else error = r.out.trim().slice(0, 300);
    } else {
      try {
        const res = await fetch(`${url}/api/summary`, { signal: AbortSignal.timeout(10_000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
        s = await res.json();
        exit = s.ok ? 0 : 1;
      } catch (err) {
        exit = 2;
        error = err.message;
      }
    }
    if (exit !== 2) this.#answered = true;
    const rec = {
      t,
      ms: Math.round(performance.now() - at),
      exit,
      ...(s === null
        ? { error }
        : {
            ok: s.ok,
            windows: s.windows,
            transactions: s.transactions,
            oldestUnbalancedSeconds: s.oldestUnbalancedSeconds === null ? null : Math.round(s.oldestUnbalancedSeconds),
            totals: s.totals,
            attention: s.needsAttention.slice(0, 3).map((w) => `${w.state} ${w.topic}[${w.partition}] ${w.windowStart}-${w.windowEnd}: ${w.problems.join("; ")}`),
          }),
      // Exit 1 is ok=false (a window in mismatch or attention, or an incomplete transaction).
      // Before the counter first answered, exit 2 is its start, not a problem.
      problem: exit === 1 || (s !== null && (s.ok === false || (s.windows?.mismatch ?? 0) > 0)) || (exit === 2 && this.#answered),
    };
    this.records.push(rec);
    return rec;
  }

  report() {
    const exits = {};
    for (const r of this.records) exits[r.exit] = (exits[r.exit] ?? 0) + 1;
    const problems = this.records.filter((r) => r.problem);
    const ms = this.records.map((r) => r.ms).sort((a, b) => a - b);
    return {
      mode: STATUS,
      samples: this.records.length,
      skippedSeconds: this.skipped,
      msP50: ms[Math.floor(ms.length / 2)] ?? null,
      msMax: ms[ms.length - 1] ?? null,
      exitCodes: exits,
      problemSamples: problems.length,
      firstProblemAt: problems[0]?.t ?? null,
      lastProblemAt: problems[problems.length - 1]?.t ?? null,
      maxMismatchWindows: Math.max(0, ...this.records.map((r) => r.windows?.mismatch ?? 0)),
      maxPendingWindows: Math.max(0, ...this.records.map((r) => r.windows?.pending ?? 0)),
      maxIncompleteTransactions: Math.max(0, ...this.records.map((r) => r.transactions?.incomplete ?? 0)),
      maxOldestUnbalancedSeconds: Math.max(0, ...this.records.map((r) => r.oldestUnbalancedSeconds ?? 0)),
      // The moments themselves: the first 20 and the last 5 problem samples.
      problems: [...problems.slice(0, 20), ...problems.slice(Math.max(20, problems.length - 5))].map(({ totals, ...r }) => r),
      final: this.records[this.records.length - 1] ?? null,
    };
  }
}

// --- the ledger database's side: pg_stat_activity sampled, pg_stat_statements ---------------------

class ActivitySampler {
  ticks = 0;
  errors = 0;
  counts = new Map(); // app → Map(what → samples)
  #stop = false;
  #loop = null;
  #db = null;

  constructor(serverUrl, db) {
    this.serverUrl = serverUrl;
    this.dbName = db;
  }

  async start() {
    this.#db = new pg.Client({ connectionString: this.serverUrl, application_name: "bench-counter-activity" });
    await this.#db.connect();
    this.#loop = (async () => {
      while (!this.#stop) {
        const at = performance.now();
        let rows = [];
        try {
          ({ rows } = await this.#db.query(
          `/* bench-counter */ SELECT a.application_name AS app, a.state, a.wait_event_type AS wtype, a.wait_event AS wevent, a.query,
                  CASE WHEN a.wait_event_type = 'Lock' THEN (SELECT string_agg(DISTINCT b.application_name, ',') FROM pg_stat_activity b WHERE b.pid = ANY (pg_blocking_pids(a.pid))) END AS blockers
             FROM pg_stat_activity a WHERE a.datname = $1 AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'`,
          [this.dbName],
          ));
        } catch {
          this.errors++; // a lost sample
          await sleep(ACTIVITY_MS);
          continue;
        }
        this.ticks++;
        for (const r of rows) {
          if (r.app.startsWith("bench-counter")) continue;
          let what;
          if (r.state === "idle") what = "idle (waiting for its client)";
          else if (r.state === "idle in transaction") what = `idle in transaction (client working) after: ${label(r.query)}`;
          else what = `${r.state}${r.wtype === null ? " on CPU" : ` waiting ${r.wtype}:${r.wevent}`}: ${label(r.query)}${r.blockers ? ` (blocked by ${r.blockers})` : ""}`;
          const app = r.app === "" ? "(no name)" : r.app;
          let m = this.counts.get(app);
          if (m === undefined) this.counts.set(app, (m = new Map()));
          m.set(what, (m.get(what) ?? 0) + 1);
        }
        const wait = ACTIVITY_MS - (performance.now() - at);
        if (wait > 0) await sleep(wait);
      }
    })();
    return this;
  }

  async stop() {
    this.#stop = true;
    await this.#loop;
    await this.#db?.end();
  }

  /** Per connection name: the share of samples in each state (1.0 = one connection doing it all the time). */
  report() {
    const out = { samples: this.ticks, lostSamples: this.errors, intervalMs: ACTIVITY_MS };
    for (const [app, m] of [...this.counts].sort()) {
      out[app] = Object.fromEntries([...m].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, n]) => [k, Number((n / Math.max(1, this.ticks)).toFixed(3))]));
    }
    return out;
  }
}

async function topStatements(url) {
  return sql(url, async (c) => {
    const { rows } = await c.query(
      `/* bench-counter */ SELECT query, calls, total_exec_time, rows FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY total_exec_time DESC`,
    );
    const serviceOf = (q) => (q.startsWith("/* bench-counter */") ? "bench" : /zeroloss_counter\./.test(q) ? "counter" : "consumer and others");
    const byService = {};
    for (const r of rows) {
      const s = serviceOf(r.query);
      byService[s] = Number(((byService[s] ?? 0) + r.total_exec_time / 1000).toFixed(2));
    }
    return {
      secondsByService: byService,
      top: rows.slice(0, 25).map((r) => ({
        service: serviceOf(r.query),
        statement: label(r.query),
        calls: Number(r.calls),
        totalS: Number((r.total_exec_time / 1000).toFixed(2)),
        meanMs: Number((r.total_exec_time / Number(r.calls)).toFixed(2)),
        rows: Number(r.rows),
      })),
    };
  });
}

// --- the phases -----------------------------------------------------------------------------------

function pgbenchArgs(url) {
  const u = new URL(url);
  return { args: ["-h", u.hostname, "-p", u.port, "-U", decodeURIComponent(u.username), u.pathname.slice(1)], env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password) } };
}

async function prepareSnapshot(stack, sourceUrl) {
  const t0 = performance.now();
  await sql(sourceUrl, async (c) => {
    await c.query(TABLE_DDL());
    await insertBacklog(c, ROWS, 50_000);
  });
  const { args, env: pgEnv } = pgbenchArgs(sourceUrl);
  const init = await procs.run(join(PG_BIN, "pgbench"), ["-i", "-s", String(PGBENCH_SCALE), "-q", ...args], { env: pgEnv }).exited;
  if (init.code !== 0) throw new Error(`pgbench -i failed (${init.code}):\n${init.out}`);
  const rows = await sql(sourceUrl, async (c) => {
    await c.query("ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY");
    await c.query("VACUUM ANALYZE");
    const { rows: r } = await c.query(
      "SELECT relname, n_live_tup::bigint AS n FROM pg_stat_user_tables WHERE relname IN ('bench_rows', 'pgbench_accounts', 'pgbench_branches', 'pgbench_tellers', 'pgbench_history') ORDER BY relname",
    );
    return Object.fromEntries(r.map((x) => [x.relname, Number(x.n)]));
  });
  console.log(`snapshot: source loaded in ${seconds(performance.now() - t0)} s: ${Object.entries(rows).map(([t, n]) => `${t} ${fmt(n)}`).join(", ")}`);
  return {
    source: { url: sourceUrl, tables: ["public.*"], slot: "zlc_snapshot", publication: "zlc_snapshot", snapshot: { mode: "initial" } },
    info: { snapshotRows: rows },
    /** pgbench at full speed from the moment the producer snapshots. */
    async load(pipeline, t0, state) {
      await until("the producer to start its snapshot", performance.now() + 180_000, 200, async () => {
        pipeline.assertRunning();
        const p = await scrape(pipeline.ports.producer);
        return ["snapshotting", "streaming"].includes(phaseOf(p));
      });
      // pgbench in runs of -T seconds, back to back: the first PGBENCH_SECONDS long, then more
      // until the snapshot has been over for PGBENCH_AFTER_S (on a busy machine it outlasts
      // any fixed -T). Each run's own report gives its transactions.
      const startedAt = seconds(performance.now() - t0);
      const runs = [];
      let snapshotDoneAt = null;
      const watch = setInterval(() => {
        void scrape(pipeline.ports.producer).then((p) => {
          if (snapshotDoneAt === null && phaseOf(p) === "streaming") snapshotDoneAt = performance.now();
        });
      }, 500);
      try {
        for (let seg = PGBENCH_SECONDS; seg > 0; ) {
          const r = procs.run(join(PG_BIN, "pgbench"), ["-c", String(PGBENCH_CLIENTS), "-T", String(seg), "-n", ...args], { env: pgEnv }, join(work, "pgbench.log"));
          const closed = new Promise((res) => r.child.once("close", res)); // 'exit' can come before the last output
          state.pgbench = true;
          state.pgbenchPid = r.child.pid;
          console.log(`snapshot: pgbench -c ${PGBENCH_CLIENTS} -T ${seg} -n started at ${seconds(performance.now() - t0)} s`);
          const done = await r.exited;
          await closed;
          state.pgbench = false;
          if (done.code !== 0) throw new Error(`pgbench failed (${done.code}):\n${done.out.slice(-2000)}`);
          const tps = /tps = ([\d.]+)/.exec(done.out)?.[1];
          const txns = /number of transactions actually processed: (\d+)/.exec(done.out)?.[1];
          runs.push({ seconds: seg, tps: tps === undefined ? null : Number(tps), transactions: txns === undefined ? null : Number(txns) });
          const after = snapshotDoneAt === null ? 0 : (performance.now() - snapshotDoneAt) / 1000;
          seg = after >= PGBENCH_AFTER_S ? 0 : snapshotDoneAt === null ? 30 : Math.ceil(PGBENCH_AFTER_S - after);
          if (performance.now() - t0 > TIMEOUT_MS / 2) break; // bounded: the drain needs time too
        }
      } finally {
        clearInterval(watch);
      }
      const endedAt = seconds(performance.now() - t0);
      const transactions = runs.reduce((a, r) => a + (r.transactions ?? 0), 0);
      return {
        pgbench: {
          clients: PGBENCH_CLIENTS,
          startedAtS: startedAt,
          endedAtS: endedAt,
          runs,
          transactions,
          tps: Number((transactions / runs.reduce((a, r) => a + r.seconds, 0)).toFixed(1)),
        },
      };
    },
  };
}

async function prepareBacklog(stack, sourceUrl) {
  const t0 = performance.now();
  await sql(sourceUrl, async (c) => {
    await c.query(SCHEMA_SQL);
    await c.query(`CREATE PUBLICATION zlc_backlog FOR TABLE ${BACKLOG_TABLES.join(", ")}`);
    await c.query("SELECT pg_create_logical_replication_slot('zlc_backlog', 'pgoutput')");
  });
  const written = await sql(sourceUrl, (c) => backlog(c, CHANGES, TXN));
  const wal = await sql(sourceUrl, async (c) => (await c.query("SELECT pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)) AS s FROM pg_replication_slots WHERE slot_name = 'zlc_backlog'")).rows[0].s);
  console.log(`backlog: ${fmt(written)} row changes in transactions of ${TXN} written in ${seconds(performance.now() - t0)} s (${wal} of WAL waiting in the slot)`);
  return {
    source: { url: sourceUrl, tables: BACKLOG_TABLES.map((t) => `public.${t}`), slot: "zlc_backlog", publication: "zlc_backlog", snapshot: { mode: "never" } },
    info: { changes: written, txnChanges: TXN, wal },
    async load() {
      return {};
    },
  };
}

function dist(values) {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return null;
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s[s.length - 1], samples: s.length };
}

/** Per 10 s: the worst lags, each stage's rate, how far behind in offsets, and the status' verdicts. */
function timeline(samples, statuses, stepS = 10) {
  const out = [];
  const rateOf = (a, b, k) => (a?.[k] == null || b?.[k] == null || b.t === a.t ? null : Math.round((b[k] - a[k]) / (b.t - a.t)));
  let prev = samples[0];
  for (let from = 0; prev !== undefined; from += stepS) {
    const inStep = samples.filter((s) => s.t > from && s.t <= from + stepS);
    if (inStep.length === 0) {
      if (samples[samples.length - 1].t <= from) break;
      continue;
    }
    const last = inStep[inStep.length - 1];
    const st = statuses.filter((r) => r.t > from && r.t <= from + stepS);
    out.push({
      t: Math.round(last.t),
      lagReadS: Math.max(...inStep.map((s) => s.lagRead)),
      lagWrittenS: Math.max(...inStep.map((s) => s.lagWritten)),
      emittedPerS: rateOf(prev, last, "emitted"),
      writtenPerS: rateOf(prev, last, "written"),
      countedDataPerS: rateOf(prev, last, "countedData"),
      behindReadOffsets: last.behindRead,
      behindWrittenOffsets: last.behindWritten,
      producer: last.producerPhase,
      pgbench: inStep.some((s) => s.pgbench) ? "on" : "off",
      status: st.length === 0 ? "" : [...new Set(st.map((r) => (r.exit === 2 ? "unreachable" : r.exit === 0 ? "ok" : `PROBLEM(mismatch ${r.windows?.mismatch ?? "?"}, attention ${r.windows?.attention ?? "?"}, incomplete ${r.transactions?.incomplete ?? "?"})`)))].join(","),
    });
    prev = last;
  }
  return out;
}

/** Rates over [from, to] seconds from the cumulative counters of the samples. */
function ratesBetween(samples, from, to) {
  const inRange = samples.filter((s) => s.t >= from && s.t <= to);
  const a = inRange.find((s) => s.emitted !== null && s.written !== null && s.countedData !== null);
  const b = [...inRange].reverse().find((s) => s.emitted !== null && s.written !== null && s.countedData !== null);
  if (a === undefined || b === undefined || b.t <= a.t) return null;
  const r = (k) => Math.round((b[k] - a[k]) / (b.t - a.t));
  return { fromS: a.t, toS: b.t, emittedPerS: r("emitted"), writtenPerS: r("written"), countedDataPerS: r("countedData"), countedTalliesPerS: r("countedTallies"), countedManifestsPerS: r("countedManifests") };
}

/** The fastest 10 s of each stage (rates from consecutive samples 10 s apart). */
function peakRates(samples) {
  const peak = { emittedPerS: 0, writtenPerS: 0, countedDataPerS: 0 };
  let j = 0;
  for (let i = 0; i < samples.length; i++) {
    while (j < samples.length && samples[j].t - samples[i].t < 10) j++;
    if (j >= samples.length) break;
    const a = samples[i];
    const b = samples[j];
    for (const [k, f] of [["emittedPerS", "emitted"], ["writtenPerS", "written"], ["countedDataPerS", "countedData"]]) {
      if (a[f] != null && b[f] != null) peak[k] = Math.max(peak[k], Math.round((b[f] - a[f]) / (b.t - a.t)));
    }
  }
  return peak;
}

async function runPhase(stack, phase) {
  const db = `zlc_${phase}`;
  const sourceUrl = await freshDatabase(stack.source.url, db);
  const targetUrl = await freshDatabase(stack.target.url, db);
  const prepared = phase === "snapshot" ? await prepareSnapshot(stack, sourceUrl) : await prepareBacklog(stack, sourceUrl);
  if (STATEMENTS) await sql(targetUrl, async (c) => {
    await c.query("CREATE EXTENSION pg_stat_statements");
    await c.query("SELECT pg_stat_statements_reset()");
  });
  await sql(targetUrl, (c) => c.query("CHECKPOINT"));

  const state = { pgbench: false, pgbenchPid: null };
  const m0 = machineCpu();
  const t0 = performance.now();
  const pipeline = await startPipeline(stack, phase, prepared.source, targetUrl);
  const processes = new ProcessSampler(stackRoots(stack)).start();
  for (const [k, pid] of Object.entries(pipeline.pids)) processes.add(k, pid);
  const sampler = await new Sampler(targetUrl, pipeline, t0, () => ({ pgbench: state.pgbench })).start();
  const status = new StatusSampler(pipeline, t0).start();
  const activity = await new ActivitySampler(stack.target.url, db).start();
  const result = { phase, ...prepared.info };
  let settled = false;
  try {
    const loading = prepared.load(pipeline, t0, state);
    // Each pgbench run is a process tree of its own: sampled while it runs.
    const seen = new Set();
    const addPgbench = setInterval(() => {
      if (state.pgbenchPid !== null && !seen.has(state.pgbenchPid)) {
        seen.add(state.pgbenchPid);
        processes.add(`pgbench-${seen.size}`, state.pgbenchPid);
      }
    }, 200);
    Object.assign(result, await loading);
    clearInterval(addPgbench);
    const loadDoneS = seconds(performance.now() - t0);
    console.log(`${phase}: load done at ${loadDoneS} s; waiting for the consumer to finish and the counter to catch up (at most ${TIMEOUT_MS / 1000} s from the start)`);
    // Done: the consumer's positions stood still for SETTLE_S, and the counter is level everywhere.
    let lastMove = performance.now();
    let lastOffsets = -1;
    let lastReport = performance.now();
    while (performance.now() - t0 < TIMEOUT_MS) {
      pipeline.assertRunning();
      await sleep(SAMPLE_MS);
      const s = sampler.samples[sampler.samples.length - 1];
      if (s === undefined) continue;
      if (s.consumerOffsets !== lastOffsets) [lastOffsets, lastMove] = [s.consumerOffsets, performance.now()];
      if (performance.now() - lastReport > 30_000) {
        lastReport = performance.now();
        console.log(`${phase}: t=${Math.round(s.t)} s: lag read ${s.lagRead} s, written ${s.lagWritten} s; counter behind by ${fmt(s.behindRead)} / ${fmt(s.behindWritten)} offsets; emitted ${fmt(s.emitted ?? 0)}, written ${fmt(s.written ?? 0)}, counted ${fmt(s.countedData ?? 0)}`);
      }
      if (s.partitions > 0 && s.producerPhase === "streaming" && performance.now() - lastMove >= SETTLE_S * 1000 && s.lagRead === 0 && s.lagWritten === 0) {
        settled = true;
        break;
      }
    }
    result.settled = settled;
    result.loadDoneS = loadDoneS;
    result.endS = seconds(performance.now() - t0);
    result.consumerDoneS = seconds(lastMove - t0);
    if (!settled) console.log(`${phase}: NOT settled within ${TIMEOUT_MS / 1000} s: the lag figures below are lower bounds`);
  } finally {
    await Promise.all([sampler.stop(), status.stop(), activity.stop()]);
    processes.stop();
    result.machineCoresBusy = coresBusy(m0, machineCpu());
  }
  // A last look once everything has stopped moving: the ledger should balance.
  result.finalStatus = STATUS === "off" ? null : status.records[status.records.length - 1] ?? null;
  if (STATEMENTS) result.statements = await topStatements(targetUrl);
  result.ledgerActivity = activity.report();
  result.lostSamples = sampler.errors;
  {
    const ts = sampler.samples.map((x) => x.t);
    const gaps = ts.slice(1).map((t, i) => t - ts[i]).sort((a, b) => a - b);
    const ms = sampler.samples.map((x) => x.sampleMs).sort((a, b) => a - b);
    result.sampling = { samples: ts.length, maxGapS: Number((gaps[gaps.length - 1] ?? 0).toFixed(2)), gapsOver1_5S: gaps.filter((g) => g > 1.5).length, queryMsP99: ms[Math.floor(0.99 * ms.length)] ?? null, queryMsMax: ms[ms.length - 1] ?? null };
  }
  await pipeline.stop();
  result.processes = processes.report();
  // The machine is shared: CPU used by processes outside this benchmark in the same time.
  const ours = Object.values(result.processes).reduce((a, p) => a + p.cpuS, 0);
  if (result.machineCoresBusy !== null) result.otherProcessesCpuS = Number(Math.max(0, result.machineCoresBusy * result.endS - ours).toFixed(1));
  result.counterTrace = pipeline.trace();

  const samples = sampler.samples;
  const snapshotEnd = samples.find((s, i) => s.producerPhase === "streaming" && samples.slice(0, i).some((x) => x.producerPhase === "snapshotting"));
  if (phase === "snapshot") {
    result.snapshotEndS = snapshotEnd?.t ?? null;
    result.pgbenchOutlastedSnapshot = snapshotEnd !== undefined && result.pgbench !== undefined && result.pgbench.endedAtS > snapshotEnd.t;
  }
  const last = samples[samples.length - 1];
  result.totals = { emitted: last?.emitted ?? null, written: last?.written ?? null, countedData: last?.countedData ?? null, dataPartitions: last?.partitions ?? 0 };
  result.lag = {
    goalS: GOAL_S,
    markerSlack: MARKER_SLACK,
    sampleMs: SAMPLE_MS,
    readPosition: { ...dist(samples.map((s) => s.lagRead)), maxAtS: samples.reduce((a, s) => (s.lagRead > a.lagRead ? s : a), samples[0] ?? { lagRead: 0, t: null }).t },
    writtenTallies: { ...dist(samples.map((s) => s.lagWritten)), maxAtS: samples.reduce((a, s) => (s.lagWritten > a.lagWritten ? s : a), samples[0] ?? { lagWritten: 0, t: null }).t },
    secondsOverGoal: { readPosition: samples.filter((s) => s.lagRead > GOAL_S).length * (SAMPLE_MS / 1000), writtenTallies: samples.filter((s) => s.lagWritten > GOAL_S).length * (SAMPLE_MS / 1000) },
  };
  const loadEnd = result.loadDoneS ?? result.endS;
  result.rates = {
    whileLoading: ratesBetween(samples, 0, phase === "backlog" ? result.consumerDoneS : loadEnd),
    whole: ratesBetween(samples, 0, result.endS),
    peak10s: peakRates(samples),
    note: "records a second: emitted = the producer's zeroloss_producer_events_total, written = the consumer's zeroloss_consumer_records_total, countedData = the counter's zeroloss_ledger_records_read_total{kind=data}",
  };
  result.status = status.report();
  result.timeline = timeline(samples, status.records);
  result.series = samples.map((s) => [s.t, s.lagRead, s.lagWritten, s.behindRead, s.behindWritten, s.emitted, s.written, s.countedData, s.producerPhase, s.pgbench ? 1 : 0]);
  result.seriesColumns = ["t", "lagReadS", "lagWrittenS", "behindReadOffsets", "behindWrittenOffsets", "emitted", "written", "countedData", "producerPhase", "pgbench"];
  result.goalMet = settled && result.lag.readPosition.max <= GOAL_S && result.lag.writtenTallies.max <= GOAL_S;
  result.statusClean = result.status.problemSamples === 0;

  await dropDatabase(stack.source.url, db);
  await dropDatabase(stack.target.url, db);
  return result;
}

function printPhase(r) {
  const l = r.lag;
  console.log(`\n== ${r.phase}: ${r.settled ? "settled" : "NOT SETTLED"} at ${r.endS} s (load done ${r.loadDoneS} s, consumer done ${r.consumerDoneS} s${r.snapshotEndS !== undefined ? `, snapshot done ${r.snapshotEndS} s` : ""})`);
  if (r.pgbench) console.log(`   pgbench: ${r.pgbench.tps} tps, ${fmt(r.pgbench.transactions)} transactions in ${r.pgbench.runs.length} run(s), ${r.pgbench.startedAtS}-${r.pgbench.endedAtS} s; outlasted the snapshot: ${r.pgbenchOutlastedSnapshot}`);
  console.log(`   lag, counter read position:  p50 ${l.readPosition.p50} s, p90 ${l.readPosition.p90} s, p99 ${l.readPosition.p99} s, max ${l.readPosition.max} s (at ${l.readPosition.maxAtS} s); ${l.secondsOverGoal.readPosition} s over ${GOAL_S} s`);
  console.log(`   lag, written tallies counted: p50 ${l.writtenTallies.p50} s, p90 ${l.writtenTallies.p90} s, p99 ${l.writtenTallies.p99} s, max ${l.writtenTallies.max} s (at ${l.writtenTallies.maxAtS} s); ${l.secondsOverGoal.writtenTallies} s over ${GOAL_S} s`);
  const w = r.rates.whileLoading;
  if (w) console.log(`   rates ${w.fromS}-${w.toS} s: emitted ${fmt(w.emittedPerS)}/s, written ${fmt(w.writtenPerS)}/s, counted ${fmt(w.countedDataPerS)}/s data records (+ ${fmt(w.countedTalliesPerS)} tallies, ${fmt(w.countedManifestsPerS)} manifests); peak 10 s: ${JSON.stringify(r.rates.peak10s)}`);
  const s = r.status;
  console.log(`   status (${s.mode}): ${s.samples} samples, exit codes ${JSON.stringify(s.exitCodes)}, ${s.problemSamples} with a problem (first at ${s.firstProblemAt} s), max mismatch windows ${s.maxMismatchWindows}, max oldest unbalanced ${s.maxOldestUnbalancedSeconds} s; each took p50 ${s.msP50} ms`);
  console.log("   t(s)  lagRead lagWritten  emitted/s written/s counted/s  behindRead behindWritten producer      pgbench status");
  for (const x of r.timeline) {
    console.log(
      `   ${String(x.t).padStart(4)} ${String(x.lagReadS).padStart(8)} ${String(x.lagWrittenS).padStart(10)} ${String(x.emittedPerS ?? "-").padStart(10)} ${String(x.writtenPerS ?? "-").padStart(9)} ${String(x.countedDataPerS ?? "-").padStart(9)} ${String(x.behindReadOffsets).padStart(11)} ${String(x.behindWrittenOffsets).padStart(13)} ${String(x.producer ?? "-").padEnd(13)} ${x.pgbench.padEnd(7)} ${x.status}`,
    );
  }
  if (r.statements) {
    console.log(`   ledger database statement time by service: ${JSON.stringify(r.statements.secondsByService)}`);
    for (const x of r.statements.top.slice(0, 12)) console.log(`     ${String(x.totalS).padStart(8)} s ${String(x.calls).padStart(8)} calls ${String(x.meanMs).padStart(9)} ms  [${x.service}] ${x.statement}`);
  }
  const p = r.processes;
  console.log(`   CPU s: ${Object.entries(p).map(([k, v]) => `${k} ${v.cpuS}`).join(", ")}; machine ${r.machineCoresBusy} cores busy on average, ${r.otherProcessesCpuS} CPU s outside this benchmark`);
}

// --- the run -------------------------------------------------------------------------------------

const summary = newSummary({
  phases: PHASES,
  rows: ROWS,
  pgbench: { scale: PGBENCH_SCALE, clients: PGBENCH_CLIENTS, seconds: PGBENCH_SECONDS, afterSnapshotSeconds: PGBENCH_AFTER_S },
  changes: CHANGES,
  txnChanges: TXN,
  goalS: GOAL_S,
  sampleMs: SAMPLE_MS,
  markerSlack: MARKER_SLACK,
  status: STATUS,
  partitions: PARTITIONS,
});
delete summary.pairs;
if (Object.keys(ZEROLOSS_CONFIG).length > 0) summary.zerolossConfig = ZEROLOSS_CONFIG;
if (COUNTER_CONSUMER !== null) summary.counterConsumer = JSON.parse(COUNTER_CONSUMER);
if (COUNTER_LANES !== null) summary.counterLanes = Number(COUNTER_LANES);
summary.commit = versionOf("git", ["-C", import.meta.dirname, "rev-parse", "--short", "HEAD"]);
summary.results = [];
let failed = false;
try {
  const t0 = performance.now();
  const stack = await startStack();
  summary.machine.postgres = await sql(stack.source.url, async (c) => (await c.query("SHOW server_version")).rows[0].server_version);
  summary.machine.kafka = stack.kafka.version;
  summary.machine.java = versionOf("sh", ["-c", "java -version 2>&1"])?.split("\n")[0] ?? null;
  summary.machine.pgbench = versionOf(join(PG_BIN, "pgbench"), ["--version"]);
  console.log(`stack up in ${seconds(performance.now() - t0)} s: PostgreSQL ${summary.machine.postgres}, Kafka ${stack.kafka.version}, 1 broker; logs in ${work}`);
  await warmUpTransactions(stack.kafka.brokers);
  for (const phase of PHASES) {
    const r = await runPhase(stack, phase);
    summary.results.push(r);
    printPhase(r);
  }
  summary.goalMet = summary.results.every((r) => r.goalMet);
  summary.statusClean = summary.results.every((r) => r.statusClean);
  summary.maxLagS = {
    readPosition: Math.max(...summary.results.map((r) => r.lag.readPosition.max)),
    writtenTallies: Math.max(...summary.results.map((r) => r.lag.writtenTallies.max)),
  };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(summary, null, 1) + "\n");
  console.log(`\nwritten: ${OUT}`);
} catch (err) {
  failed = true;
  console.error(`bench/counter failed: ${err?.stack ?? err}\nlogs: ${work}`);
} finally {
  await procs.cleanup();
}
if (!failed) {
  console.log(
    `\ngoal (counter within ${GOAL_S} s of the consumer, both positions, every phase): ${summary.goalMet ? "MET" : "NOT MET"}; max lag: read position ${summary.maxLagS.readPosition} s, written tallies ${summary.maxLagS.writtenTallies} s` +
      `\nstatus never reported a mismatch, ok=false or an unreachable counter: ${summary.statusClean ? "yes" : `NO (${summary.results.map((r) => `${r.phase}: ${r.status.problemSamples} samples`).join(", ")})`}`,
  );
}
process.exit(failed ? 2 : summary.goalMet && summary.statusClean ? 0 : 1);
