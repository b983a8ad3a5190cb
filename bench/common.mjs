// What the end-to-end benchmarks share: the benchmark row and its backlog, process and
// CPU accounting from /proc, a metric reader, and the cleanup of spawned processes.
import { spawn, execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { cpus, totalmem } from "node:os";
import pg from "pg";
import { Instance, runRoot, startDevStack, startKafka, startPostgres } from "@zeroloss/devstack";
import { createKafka } from "@zeroloss/kafka";
import { silentLogger } from "@zeroloss/observability";

export const rate = (rows, ms) => Math.round(rows / (ms / 1000));
export const fmt = (n) => n.toLocaleString("en-US");

export function withDatabase(url, db) {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

export async function sql(url, fn) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Drops and creates a database on the server of `url` (a fresh one for each measurement). */
export async function freshDatabase(url, db) {
  await sql(withDatabase(url, "postgres"), async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${db}`);
  });
  return withDatabase(url, db);
}

export async function dropDatabase(url, db) {
  await sql(withDatabase(url, "postgres"), (c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`));
}

// --- the benchmark row --------------------------------------------------------------------

export const TABLE_DDL = (name = "bench_rows") => `CREATE TABLE ${name} (
  id bigint PRIMARY KEY,
  amount numeric(18,4) NOT NULL,
  note text NOT NULL,
  created timestamptz NOT NULL,
  attrs jsonb NOT NULL
)`;
export const COLUMNS = ["id", "amount", "note", "created", "attrs"];

// ~150 bytes a row in WAL's tuple data: note is exactly 40 characters; timestamps carry microseconds.
export const INSERT_SQL = `INSERT INTO bench_rows (id, amount, note, created, attrs)
SELECT g,
       ((g * 7919) % 100000000)::numeric / 10000,
       'note ' || lpad(g::text, 9, '0') || ' ' || substr(md5(g::text), 1, 25),
       timestamptz '2026-01-01 00:00:00+00' + g * interval '1.000123 second',
       jsonb_build_object('kind', 'order', 'shard', g % 16, 'flag', g % 2 = 0)
  FROM generate_series($1::bigint, $2::bigint) g`;

/** INSERT_SQL into another table of the same shape (TABLE_DDL(table)). */
export const insertSqlFor = (table) => INSERT_SQL.replace("INSERT INTO bench_rows ", `INSERT INTO ${table} `);

/** Inserts ids 1..rows into `table` (bench_rows), one autocommitted transaction per `txnRows` rows. */
export async function insertBacklog(client, rows, txnRows, table = "bench_rows") {
  const text = insertSqlFor(table);
  for (let from = 1; from <= rows; from += txnRows) {
    await client.query(text, [from, Math.min(rows, from + txnRows - 1)]);
  }
}

/**
 * Row count and an order-independent content digest of bench_rows-shaped data, computed by
 * the database over its own stored values (only the benchmark's columns: the consumer's
 * hidden LSN column does not count).
 */
export async function contentDigest(client, table) {
  const { rows } = await client.query(
    `SELECT count(*)::bigint AS n, sum(('x' || substr(md5(row(${COLUMNS.join(", ")})::text), 1, 15))::bit(60)::bigint)::text AS digest FROM ${table}`,
  );
  return { rows: Number(rows[0].n), digest: rows[0].digest };
}

// --- processes and CPU --------------------------------------------------------------------

/** CPU seconds (user+system) a process has used so far, from /proc; null elsewhere. */
export function cpuSeconds(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) / 100; // utime, stime in clock ticks (100 Hz)
  } catch {
    return null; // not Linux, or the process is gone: the figure prints as "?"
  }
}

/**
 * CPU seconds of a process's children that ended and were waited for (cutime + cstime, which
 * include their own waited-for descendants), from /proc; null elsewhere. A PostgreSQL
 * backend that disconnected lands here, in its postmaster's figure.
 */
export function reapedChildrenCpuSeconds(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[13]) + Number(rest[14])) / 100; // cutime, cstime in clock ticks (100 Hz)
  } catch {
    return null; // not Linux, or the process is gone
  }
}

/** Jiffies the whole machine spent busy and in total so far, from /proc/stat. */
export function machineCpu() {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null; // not Linux: the figure prints as "?"
  }
}

/** Busy share of all cores between two machineCpu() readings, as "cores busy" (0..nproc). */
export function coresBusy(a, b) {
  if (a === null || b === null || b.total === a.total) return null;
  return Number((((b.busy - a.busy) / (b.total - a.total)) * cpus().length).toFixed(2));
}

export function versionOf(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch {
    return null; // not installed: recorded as null in the summary
  }
}

/**
 * Tracks the processes a benchmark spawns and kills them on any exit path (SIGINT and
 * SIGTERM included), then stops the dev stack.
 */
export class Processes {
  children = new Set();
  stack = null;
  #cleaning = null;

  constructor() {
    for (const sig of ["SIGINT", "SIGTERM"]) {
      process.once(sig, () => {
        console.error(`\n${sig}: stopping`);
        void this.cleanup().finally(() => process.exit(130));
      });
    }
  }

  /** Spawns a tracked child; `exited` resolves with code, wall ms and the output's tail. */
  run(command, args, options = {}, logFile = null) {
    const t0 = performance.now();
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
    this.children.add(child);
    let out = "";
    const keep = (d) => {
      out = (out + d.toString()).slice(-20_000);
      if (logFile !== null) appendFileSync(logFile, d);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const exited = new Promise((resolveExit) =>
      child.once("exit", (code, signal) => {
        this.children.delete(child);
        resolveExit({ code, signal, ms: performance.now() - t0, out });
      }),
    );
    return { child, t0, exited, output: () => out };
  }

  /** SIGTERM (a clean stop, CPU profiles written), SIGKILL after 30 s. */
  async stop(r) {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGTERM");
    const killer = setTimeout(() => r.child.kill("SIGKILL"), 30_000);
    await r.exited;
    clearTimeout(killer);
  }

  cleanup() {
    this.#cleaning ??= (async () => {
      for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
      if (this.stack !== null) await this.stack.stop();
      this.stack = null;
    })();
    return this.#cleaning;
  }
}

/** Sum of a counter's samples on a service's /metrics whose labels contain `labelPart`. */
export async function metricSum(port, name, labelPart = "") {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) });
  const text = await res.text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!(line.startsWith(`${name}{`) || line.startsWith(`${name} `))) continue;
    if (labelPart !== "" && !line.includes(labelPart)) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

/** metricSum, or null while the service is not listening yet (any other error fails the run). */
export async function metricSumIfUp(port, name, labelPart = "") {
  try {
    return await metricSum(port, name, labelPart);
  } catch (err) {
    if (err?.cause?.code !== "ECONNREFUSED") throw err;
    return null;
  }
}

// A fresh cluster creates its __transaction_state topic on the first transactional use,
// which then costs the first producer about 0.6 s of startup that no cluster in service
// has: done once, before anything is measured.
export async function warmUpTransactions(brokers) {
  const kafka = createKafka({ brokers, clientId: "bench-warmup", log: silentLogger() });
  const producer = kafka.producer({ transactionalId: "bench-warmup", idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await (await producer.transaction()).abort();
  } finally {
    await producer.disconnect();
  }
}

/**
 * `base` with `extra`'s keys merged in, objects key by key at any depth (arrays and other
 * values replace): ZEROLOSS_CONFIG='{"source":{"snapshot":{"chunkSize":5000}}}' keeps the
 * rest of source.snapshot.
 */
export function mergeConfig(base, extra) {
  const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  const out = { ...base };
  for (const [k, v] of Object.entries(extra)) out[k] = isObject(v) && isObject(out[k]) ? mergeConfig(out[k], v) : v;
  return out;
}

/** Polls a condition every `intervalMs` until it returns true, or fails at the deadline. */
export async function until(what, deadline, intervalMs, check) {
  for (;;) {
    if (await check()) return;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    // A sampling interval bounded by the deadline above, not a wait for a condition.
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

// --- the benchmarks' frame: summary, dev stack, exit --------------------------------------

/** The JSON summary every end-to-end benchmark prints last; `extra` holds its parameters. */
export function newSummary(extra) {
  return {
    date: new Date().toISOString(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? null, ramGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    ...extra,
    pairs: [],
  };
}

/** Starts the dev stack (1 broker) for `procs` to stop, records its versions in the summary, warms Kafka's transactions. */
/**
 * A source and a target PostgreSQL with server settings of the benchmark's choosing, and one
 * Kafka broker, all local; `procs.stack` stops them. For benchmarks that need settings the
 * dev stack does not take (pg_stat_statements, track_commit_timestamp).
 */
export async function startTunedStack(procs, { env, log, sourceSettings = {}, targetSettings = {} }) {
  const instance = await Instance.create({ root: runRoot(env), detached: false, log });
  try {
    const [source, target, kafka] = await Promise.all([
      startPostgres(instance, { name: "source", database: "source", env, log, settings: sourceSettings }),
      startPostgres(instance, { name: "target", database: "target", env, log, settings: targetSettings }),
      startKafka(instance, { brokers: 1, env, log }),
    ]);
    procs.stack = { stop: () => instance.stop() };
    return { source, target, kafka };
  } catch (err) {
    await instance.stop();
    throw err;
  }
}

export async function startBenchStack(procs, summary, log) {
  const t0 = performance.now();
  const stack = await startDevStack({ brokers: 1, log });
  procs.stack = stack;
  summary.machine.postgres = await sql(stack.source, async (c) => (await c.query("SHOW server_version")).rows[0].server_version);
  summary.machine.kafka = stack.kafkaVersion;
  summary.machine.java = versionOf("sh", ["-c", "java -version 2>&1"])?.split("\n")[0] ?? null;
  summary.machine.devstack = stack.mode;
  console.log(`dev stack (${stack.mode}) up in ${((performance.now() - t0) / 1000).toFixed(1)} s: PostgreSQL ${summary.machine.postgres}, Kafka ${stack.kafkaVersion}`);
  await warmUpTransactions(stack.kafka);
  return stack;
}

/**
 * Runs a benchmark's pairs, then adds the median ratio and whether every pair met `goal`,
 * cleans up on every path, prints the summary and exits (1 when anything failed). With
 * `out`, a run that did not fail also writes the summary to that file.
 */
export async function runBench(name, summary, goal, body, cleanup, out = null) {
  let failed = false;
  try {
    await body();
    summary.ratioMedian = Number(median(summary.pairs.map((x) => x.ratio)).toFixed(3));
    summary.goalMet = summary.pairs.every((x) => x.ratio >= goal);
    if (out !== null) {
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, JSON.stringify(summary, null, 2) + "\n");
    }
  } catch (err) {
    failed = true;
    console.error(`${name} failed: ${err?.stack ?? err}`);
  } finally {
    await cleanup();
  }
  console.log(JSON.stringify(summary, null, 2));
  process.exit(failed ? 1 : 0);
}

// --- the benchmark row as the producer sees it (the hot-path benchmarks) -------------------

export const ENVELOPE_COLUMNS = [
  { name: "id", type: "bigint", typeOid: 20, typmod: -1, key: true },
  { name: "amount", type: "numeric(18,4)", typeOid: 1700, typmod: 1179656 },
  { name: "note", type: "text", typeOid: 25, typmod: -1 },
  { name: "created", type: "timestamp with time zone", typeOid: 1184, typmod: -1 },
  { name: "attrs", type: "jsonb", typeOid: 3802, typmod: -1 },
];

/** Row i's values in PostgreSQL's text output, and a source block for it (`seq` its place in the round). */
export function hotPathRow(i, seq) {
  const tuple = [
    String(i),
    `${(i % 100000) * 3}.${String(i % 10000).padStart(4, "0")}`,
    `note ${String(i).padStart(10, "0")} abcdefghijklmnopqrstuvw`,
    `2026-11-21 13:${String(i % 60).padStart(2, "0")}:05.123456+00`,
    `{"k": ${i % 97}, "flag": true, "tag": "t${i % 13}"}`,
  ];
  const source = { db: "bench", schema: "public", table: "bench_rows", lsn: "0/1D44CE8", commitLsn: "0/2D44CE8", xid: 777, commitTime: "2026-11-21T13:53:25.121000Z", seq };
  return { tuple, source };
}

// --- CPU and memory of process trees over time --------------------------------------------

/** Parent pid of every process, from /proc: the basis for summing a server's backends. */
function parentsByPid() {
  const parents = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const f = readFileSync(`/proc/${entry}/stat`, "utf8");
      parents.set(Number(entry), Number(f.slice(f.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // the process ended between readdir and read: it has no tree to contribute to
    }
  }
  return parents;
}

/** Proportional set size in bytes (shared pages split among their users), or null when gone. */
function pssBytes(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return m === null ? null : Number(m[1]) * 1024;
  } catch {
    return null; // the process is gone, or smaps_rollup is not readable: no sample
  }
}

/**
 * Samples the CPU seconds and memory (PSS) of named process trees every `intervalMs`: a
 * PostgreSQL server is its postmaster and every backend under it. `series` keeps every
 * sample (the soak plots memory over time); `report()` gives CPU used and peak memory.
 * With `reaped`, a tree's CPU includes its processes that ended meanwhile (a backend whose
 * client disconnected before the last sample): each live process adds its waited-for
 * children's CPU. Without it (the default), only processes alive at a sample count.
 */
export class ProcessSampler {
  series = [];
  #roots;
  #timer = null;
  #t0 = performance.now();
  #reaped;

  /** roots: { name: pid } */
  constructor(roots, intervalMs = 1000, { reaped = false } = {}) {
    this.#roots = { ...roots };
    this.intervalMs = intervalMs;
    this.#reaped = reaped;
  }

  add(name, pid) {
    this.#roots[name] = pid;
  }

  sample() {
    const parents = parentsByPid();
    const children = new Map();
    for (const [pid, ppid] of parents) {
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(pid);
    }
    const point = { t: Number(((performance.now() - this.#t0) / 1000).toFixed(1)), procs: {} };
    for (const [name, root] of Object.entries(this.#roots)) {
      const tree = [root];
      for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
      let cpu = 0;
      let mem = 0;
      let alive = false;
      for (const pid of tree) {
        const c = cpuSeconds(pid);
        if (c === null) continue;
        alive = true;
        cpu += c + (this.#reaped ? (reapedChildrenCpuSeconds(pid) ?? 0) : 0);
        mem += pssBytes(pid) ?? 0;
      }
      if (alive) point.procs[name] = { cpuS: Number(cpu.toFixed(2)), memMiB: Number((mem / 2 ** 20).toFixed(1)) };
    }
    this.series.push(point);
    return point;
  }

  start() {
    this.sample();
    this.#timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  stop() {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.sample();
  }

  /** Per tree: CPU seconds between the first and last sample, peak memory in MiB. */
  report() {
    const out = {};
    const first = this.series[0]?.procs ?? {};
    for (const point of this.series) {
      for (const [name, p] of Object.entries(point.procs)) {
        const r = (out[name] ??= { cpuS: 0, peakMemMiB: 0 });
        r.cpuS = Number((p.cpuS - (first[name]?.cpuS ?? 0)).toFixed(2));
        r.peakMemMiB = Math.max(r.peakMemMiB, p.memMiB);
      }
    }
    return out;
  }
}
