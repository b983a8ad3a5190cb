// Producer throughput against pg_recvlogical, on the same insert backlog.
//
// For each pair: a fresh source database with bench_rows (bigint key, numeric(18,4), ~40
// byte text, timestamptz, small jsonb) and a publication; two pgoutput slots created BEFORE
// the insert (bench_recv_<n> for pg_recvlogical, zeroloss_bench_<n> for the producer); the
// backlog inserted in transactions of TXN_ROWS rows; then
//   1. pg_recvlogical reads the backlog to /dev/null (--endpos = pg_current_wal_lsn() after
//      the insert, so it exits once it has read it), timed as a process;
//   2. the producer (snapshot mode never: it streams from its slot's position) reads the
//      same backlog into Kafka (1 broker, acks=all, transactions), timed from its spawn to
//      zeroloss_producer_events_total reaching ROWS (bumped after each Kafka commit); the
//      time to its first committed event is reported as startup, the rate after it as
//      steady. Its slot's confirmed_flush_lsn reaching the post-insert LSN is recorded too
//      and must not come before the events (the slot acknowledged past Kafka: a failure);
//   3. Kafka is checked: the data topic must hold exactly ROWS committed records with ROWS
//      distinct keys (read_committed), and the emitted tallies must sum to ROWS.
// Pairs run one after the other (recvlogical, producer, recvlogical, producer, ...) because
// the machine is noisy; each pair's ratio compares neighbours.
//
// Usage: npm run bench:producer            (ROWS=1000000 PAIRS=2 TXN_ROWS=10000)
//        ROWS=100000 PAIRS=1 node bench/producer/run.mjs
//        PROFILE_DIR=/tmp/prof ROWS=200000 PAIRS=1 node bench/producer/run.mjs   (node --cpu-prof on the producer)
//        PRODUCER_NODE_ARGS="--import /tmp/trace.mjs" adds node options to the producer process only.
//        LOG_DIR=/tmp/logs writes each producer's whole output to LOG_DIR/producer-<pair>.log.
//        VERIFY=0 skips reading the data topic back (the tallies are still summed).
// Prints one line per measurement and a JSON summary last.
import { mkdtempSync, writeFileSync, rmSync, mkdirSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pg from "pg";
import { freePort, pollUntil } from "@zeroloss/devstack";
import { createKafka, readToEnd } from "@zeroloss/kafka";
import { createLogger, silentLogger } from "@zeroloss/observability";
import { parseLsn } from "@zeroloss/pg";
import { decodeTally, topicNames } from "@zeroloss/wire";
import {
  Processes,
  TABLE_DDL,
  coresBusy,
  cpuSeconds,
  fmt,
  freshDatabase,
  insertBacklog,
  machineCpu,
  metricSumIfUp,
  newSummary,
  rate,
  runBench,
  sql,
  startBenchStack,
  withDatabase,
} from "../common.mjs";

const env = process.env;
const ROWS = Number(env.ROWS ?? process.argv[2] ?? 1_000_000);
const PAIRS = Number(env.PAIRS ?? 2);
const TXN_ROWS = Number(env.TXN_ROWS ?? 10_000);
const VERIFY = env.VERIFY !== "0";
const PROFILE_DIR = env.PROFILE_DIR ? resolve(env.PROFILE_DIR) : null;
const TIMEOUT_MS = Number(env.TIMEOUT_S ?? 900) * 1000; // per measurement
const PG_BIN = env.PG_BIN ?? "/usr/lib/postgresql/15/bin";
const PRODUCER_MAIN = resolve(import.meta.dirname, "../../services/producer/dist/main.js");
const PUBLICATION = "bench_pub";

for (const [name, v] of Object.entries({ ROWS, PAIRS, TXN_ROWS })) {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got ${v}`);
}

const log = createLogger({ name: "bench", level: "warn", pretty: true });
const procs = new Processes();
let stack = null;
const run = (...args) => procs.run(...args);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- the backlog -------------------------------------------------------------------------

/** A fresh database with the table, the publication and both slots; then the backlog. */
async function prepare(pair) {
  const db = `bench_${pair}`;
  const url = await freshDatabase(stack.source, db);
  const recvSlot = `bench_recv_${pair}`;
  const producerSlot = `zeroloss_bench_${pair}`;
  return sql(url, async (c) => {
    await c.query(TABLE_DDL());
    await c.query(`CREATE PUBLICATION ${PUBLICATION} FOR TABLE bench_rows`);
    for (const slot of [recvSlot, producerSlot]) await c.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    const t0 = performance.now();
    await insertBacklog(c, ROWS, TXN_ROWS); // autocommit: one transaction each
    const insertMs = performance.now() - t0;
    const { rows } = await c.query(
      "SELECT pg_current_wal_lsn()::text AS lsn, pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)) AS wal, pg_size_pretty(pg_total_relation_size('bench_rows')) AS size FROM pg_replication_slots WHERE slot_name = $1",
      [recvSlot],
    );
    const row = rows[0];
    console.log(`pair ${pair}: inserted ${fmt(ROWS)} rows in ${Math.ceil(ROWS / TXN_ROWS)} transactions in ${(insertMs / 1000).toFixed(1)} s; WAL ${row.wal}, table ${row.size}, end LSN ${row.lsn}`);
    return { db, url, recvSlot, producerSlot, endLsn: row.lsn, wal: row.wal };
  });
}

async function dropPair(p) {
  await sql(withDatabase(stack.source, "postgres"), async (c) => {
    await c.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ANY($1) AND NOT active", [[p.recvSlot, p.producerSlot]]);
    await c.query(`DROP DATABASE IF EXISTS ${p.db} WITH (FORCE)`);
  });
}

// --- pg_recvlogical ----------------------------------------------------------------------

async function measureRecvlogical(p) {
  const args = ["-d", p.url, "--slot", p.recvSlot, "--start", "-o", "proto_version=1", "-o", `publication_names=${PUBLICATION}`, "-f", "/dev/null", "--no-loop", "--endpos", p.endLsn];
  const m0 = machineCpu();
  const r = run(join(PG_BIN, "pg_recvlogical"), args);
  const timer = setTimeout(() => r.child.kill("SIGKILL"), TIMEOUT_MS);
  const done = await r.exited;
  clearTimeout(timer);
  if (done.code !== 0) throw new Error(`pg_recvlogical exited with ${done.code ?? done.signal}:\n${done.out}`);
  const ms = done.ms;
  return { ms, rowsPerSec: rate(ROWS, ms), machineCoresBusy: coresBusy(m0, machineCpu()) };
}

// --- the producer ------------------------------------------------------------------------

async function measureProducer(p, pair) {
  const port = await freePort();
  const prefix = `bench${pair}`;
  const dir = mkdtempSync(join(tmpdir(), "zeroloss-bench-"));
  const configFile = join(dir, "zeroloss.yaml");
  const config = {
    source: { url: p.url, tables: ["public.bench_rows"], slot: p.producerSlot, publication: PUBLICATION, snapshot: { mode: "never" } },
    target: { url: stack.target },
    kafka: { brokers: [...stack.kafka], topicPrefix: prefix },
    producer: { http: { port, host: "127.0.0.1" } },
    log: { level: env.PRODUCER_LOG_LEVEL ?? "warn" },
  };
  writeFileSync(configFile, JSON.stringify(config, null, 2)); // JSON is YAML
  const nodeArgs = (env.PRODUCER_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
  if (PROFILE_DIR !== null) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    nodeArgs.push("--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=producer-${pair}.cpuprofile`);
  }
  let logFile = null;
  if (env.LOG_DIR) {
    mkdirSync(env.LOG_DIR, { recursive: true });
    logFile = join(env.LOG_DIR, `producer-${pair}.log`);
    writeFileSync(logFile, "");
  }
  const kafkaPid = stack.pids["kafka-1"] ?? null;
  const kafkaCpu0 = kafkaPid === null ? null : cpuSeconds(kafkaPid);
  const m0 = machineCpu();
  const r = run(process.execPath, [...nodeArgs, PRODUCER_MAIN, "--config", configFile], {}, logFile);
  const endLsn = parseLsn(p.endLsn);
  const control = new pg.Client({ connectionString: p.url });
  await control.connect();
  // Done when zeroloss_producer_events_total (bumped right after each Kafka commit) reaches
  // ROWS. The slot's confirmed_flush_lsn reaching the post-insert LSN is watched too and
  // must not come first: a slot acknowledged past what Kafka holds would be a lost change.
  let firstAt = null;
  let firstEvents = 0;
  let eventsAt = null;
  let flushAt = null;
  let flushEvents = null;
  let cpu = null;
  let walsenderPid = null;
  let walsenderCpu = null;
  let kafkaCpu = null;
  let machineBusy = null;
  const samples = []; // [ms since spawn, events, confirmed_flush_lsn], on change
  const anomaly = () =>
    flushAt !== null && (eventsAt === null || eventsAt > flushAt + 1000) // 1 s: two polls, under load
      ? `the slot's confirmed_flush_lsn reached the post-insert LSN ${p.endLsn} at ${((flushAt - r.t0) / 1000).toFixed(2)} s with events_total ${flushEvents} < ${ROWS}` +
        (eventsAt === null ? ", and events_total never reached it" : `; events_total reached it at ${((eventsAt - r.t0) / 1000).toFixed(2)} s`) +
        `. Samples [s, events_total, confirmed_flush_lsn]: ${samples.slice(-12).map(([t, e, l]) => `[${(t / 1000).toFixed(2)}, ${e}, ${l}]`).join(" ")}`
      : null;
  try {
    const deadline = r.t0 + TIMEOUT_MS;
    for (;;) {
      if (r.child.exitCode !== null || r.child.signalCode !== null) throw new Error(`the producer exited early (${r.child.exitCode ?? r.child.signalCode}):\n${r.output()}`);
      if (performance.now() > deadline) throw new Error(`the producer did not read ${fmt(ROWS)} rows in ${TIMEOUT_MS / 1000} s:\n${r.output()}`);
      // null while the producer is not listening yet
      const events = await metricSumIfUp(port, "zeroloss_producer_events_total");
      const m = events === null ? null : { events };
      const now = performance.now();
      if (m !== null && m.events > 0 && firstAt === null) {
        firstAt = now;
        firstEvents = m.events;
      }
      if (m !== null && m.events >= ROWS && eventsAt === null) {
        eventsAt = now;
        cpu = cpuSeconds(r.child.pid);
        walsenderCpu = walsenderPid === null ? null : cpuSeconds(walsenderPid);
        kafkaCpu = kafkaCpu0 === null ? null : Number((cpuSeconds(kafkaPid) - kafkaCpu0).toFixed(2));
        machineBusy = coresBusy(m0, machineCpu());
      }
      const { rows } = await control.query("SELECT confirmed_flush_lsn::text AS lsn, active_pid FROM pg_replication_slots WHERE slot_name = $1", [p.producerSlot]);
      const flushLsn = rows[0]?.lsn ?? null;
      walsenderPid ??= rows[0]?.active_pid ?? null;
      const last = samples.at(-1);
      if (last === undefined || last[1] !== (m?.events ?? null) || last[2] !== flushLsn) samples.push([now - r.t0, m?.events ?? null, flushLsn]);
      if (flushLsn !== null && parseLsn(flushLsn) >= endLsn && flushAt === null) {
        flushAt = performance.now();
        flushEvents = m?.events ?? null;
      }
      // Both seen; or Kafka done and the slot not yet told about WAL after the last commit
      // (that waits for a keepalive); or the slot ahead of Kafka for 30 s.
      if (eventsAt !== null && (flushAt !== null || performance.now() - eventsAt > 5_000)) break;
      if (flushAt !== null && eventsAt === null && performance.now() - flushAt > 30_000) break;
      // A sampling interval, not a wait for a condition: the loop measures when events_total
      // and the slot reach the end, and is bounded by the deadline above.
      await sleep(eventsAt === null ? 100 : 50);
    }
  } finally {
    await control.end();
    await procs.stop(r); // SIGTERM: a clean stop (and the CPU profile written on exit)
    rmSync(dir, { recursive: true, force: true });
  }
  const problem = anomaly();
  if (problem !== null) throw new Error(`${problem}\nproducer output:\n${r.output()}`);
  const ms = eventsAt - r.t0;
  const startupMs = firstAt - r.t0;
  const steadyRowsPerSec = eventsAt > firstAt ? rate(ROWS - firstEvents, eventsAt - firstAt) : null;
  let verified;
  try {
    verified = await verifyKafka(prefix);
  } catch (err) {
    throw new Error(`${err.message}\nproducer output:\n${r.output()}`);
  }
  const flushMs = flushAt === null ? null : flushAt - r.t0;
  // CPU seconds from the producer's spawn to the last event: the producer process, the
  // walsender serving it, the Kafka broker; and the whole machine's busy cores.
  const cpuUse = { producer: cpu, walsender: walsenderCpu, kafka: kafkaCpu, machineCoresBusy: machineBusy };
  return { ms, rowsPerSec: rate(ROWS, ms), startupMs, steadyRowsPerSec, flushMs, cpuSeconds: cpuUse, ...verified };
}

/**
 * Committed records in the data topic (read_committed), distinct keys, and the emitted
 * tallies' sum. A read right after a commit can stop at a last stable offset the
 * transaction markers have not yet moved: a short count is read again before it fails.
 */
async function verifyKafka(prefix) {
  const shortReads = [];
  const v = await pollUntil(
    async () => {
      try {
        return await verifyKafkaOnce(prefix);
      } catch (err) {
        shortReads.push(err.message);
        throw err; // pollUntil reports the last one if the deadline passes
      }
    },
    { timeoutMs: 30_000, intervalMs: 1_000, what: `Kafka to hold exactly ${fmt(ROWS)} committed records of ${prefix}` },
  );
  return { ...v, verifyAttempts: shortReads.length + 1, ...(shortReads.length > 0 ? { shortReads } : {}) };
}

async function verifyKafkaOnce(prefix) {
  const topics = topicNames(prefix);
  const dataTopic = topics.data("public", "bench_rows");
  const kafka = createKafka({ brokers: stack.kafka, clientId: "bench-verify", log: silentLogger() });
  let talliesSum = 0;
  await readToEnd(kafka, topics.tallies, (r) => {
    const t = decodeTally(r.value);
    if (t.topic === dataTopic && t.stage === "emitted") talliesSum += t.count;
  });
  let records = null;
  let distinctKeys = null;
  let missing = null;
  if (VERIFY) {
    const keys = new Set();
    records = await readToEnd(kafka, dataTopic, (r) => keys.add(r.key?.toString() ?? ""), { timeoutMs: 600_000 });
    distinctKeys = keys.size;
    if (distinctKeys !== ROWS) {
      // Name the missing ids as ranges, to tell a lost transaction from scattered losses.
      const ranges = [];
      for (let id = 1; id <= ROWS; id++) {
        if (keys.has(JSON.stringify({ id: String(id) }))) continue;
        const last = ranges.at(-1);
        if (last !== undefined && last[1] === id - 1) last[1] = id;
        else ranges.push([id, id]);
      }
      missing = ranges.slice(0, 10).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(", ") + (ranges.length > 10 ? ` (+${ranges.length - 10} more ranges)` : "");
    }
  }
  const ok = talliesSum === ROWS && (records === null || (records === ROWS && distinctKeys === ROWS));
  if (!ok) {
    throw new Error(
      `Kafka does not hold exactly ${ROWS} records of ${dataTopic}: tallies ${talliesSum}, records ${records}, distinct keys ${distinctKeys}` +
        (missing === null ? "" : `; missing ids: ${missing}`),
    );
  }
  return { kafkaRecords: records, kafkaDistinctKeys: distinctKeys, talliesSum };
}

// --- main --------------------------------------------------------------------------------

const summary = newSummary({ rows: ROWS, txnRows: TXN_ROWS });
await runBench("bench:producer", summary, 0.4, async () => {
  console.log(`bench:producer ${fmt(ROWS)} rows, ${PAIRS} pair(s), ${fmt(TXN_ROWS)} rows per source transaction; ${cpus().length} cores, ${summary.machine.ramGiB} GiB, node ${process.version}`);
  stack = await startBenchStack(procs, summary, log);
  for (let pair = 1; pair <= PAIRS; pair++) {
    const p = await prepare(pair);
    try {
      const recv = await measureRecvlogical(p);
      console.log(`pair ${pair}: pg_recvlogical  ${fmt(recv.rowsPerSec).padStart(9)} rows/s  (${(recv.ms / 1000).toFixed(2)} s; ${recv.machineCoresBusy ?? "?"} of ${cpus().length} cores busy)`);
      const prod = await measureProducer(p, pair);
      const ratio = prod.rowsPerSec / recv.rowsPerSec;
      console.log(
        `pair ${pair}: producer        ${fmt(prod.rowsPerSec).padStart(9)} rows/s  (${(prod.ms / 1000).toFixed(2)} s; startup ${(prod.startupMs / 1000).toFixed(2)} s, ` +
          `then ${prod.steadyRowsPerSec === null ? "-" : fmt(prod.steadyRowsPerSec)} rows/s; CPU s: producer ${prod.cpuSeconds.producer ?? "?"}, ` +
          `walsender ${prod.cpuSeconds.walsender ?? "?"}, kafka ${prod.cpuSeconds.kafka ?? "?"}; ${prod.cpuSeconds.machineCoresBusy ?? "?"} of ${cpus().length} cores busy) ` +
          `ratio ${(ratio * 100).toFixed(1)}%  [Kafka: ${prod.kafkaRecords ?? "-"} records, ${prod.kafkaDistinctKeys ?? "-"} keys, tallies ${prod.talliesSum}]`,
      );
      summary.pairs.push({ pair, wal: p.wal, recvlogical: recv, producer: prod, ratio: Number(ratio.toFixed(3)) });
    } finally {
      await dropPair(p);
    }
  }
}, () => procs.cleanup());
