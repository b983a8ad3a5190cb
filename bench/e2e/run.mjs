// zeroloss against Debezium, end to end, on the same machine, Kafka and PostgreSQL servers,
// with the same workload (bench/e2e/workload.mjs: customers, orders, order events; 60%
// inserts, 30% updates, 10% deletes). Measured in one run:
//
//   limits     pg_recvlogical decoding the backlog's WAL (pgoutput, to /dev/null), and
//              psql \copy loading the backlog's final rows into empty tables;
//   backlog    CHANGES row changes written while no pipeline runs (each pipeline's slot
//              exists, so the WAL waits); then each pipeline is started and timed until the
//              target's content equals the source's (polled by count, sum of revisions and
//              ids, then confirmed by an md5 digest of every compared column);
//   fixed rate RATE changes a second in transactions of 10 on 4 connections for SECONDS,
//              each pipeline on its own fresh databases; latency per row = the target's
//              commit time of the row's last version − the source's commit time of it
//              (track_commit_timestamp on both servers, one clock), rows committed in the
//              first WARMUP_S seconds left out; content compared after the drain.
//
// zeroloss runs as shipped (producer, consumer with in-database checksum validation, counter).
// Debezium 3.6 runs in Kafka Connect 4.3 standalone (bench/e2e/debezium.mjs for its settings).
// CPU seconds and peak memory (PSS) of every process tree are sampled each second.
//
// Usage: npm run bench:e2e
//        CHANGES=300000 RATE=1000 SECONDS=60 PIPELINES=zeroloss,debezium PHASES=backlog,rate node bench/e2e/run.mjs
//        ZEROLOSS_CONFIG='{"producer":{"lingerMs":20}}' merges keys into zeroloss's config sections
//        PROFILE_DIR=/tmp/prof   node --cpu-prof on the producer and consumer
// Writes bench/results/e2e.json (OUT=<file> elsewhere) and prints it.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import pg from "pg";
import { freePort } from "@zeroloss/devstack";
import { createLogger, histogramBuckets, histogramQuantile, parseMetrics, sumOf } from "@zeroloss/observability";
import { Processes, ProcessSampler, startTunedStack, dropDatabase, fmt, freshDatabase, newSummary, rate, sql, until, versionOf, warmUpTransactions } from "../common.mjs";
import { DEBEZIUM_VERSION, connectWorker, connectorStates, ensureDebezium, putConnector, sinkConfig, sourceConfig } from "./debezium.mjs";
import { SCHEMA_SQL, TABLES, Workload, backlog, fixedRate, tableDigests, tableFingerprints } from "./workload.mjs";

const env = process.env;
const CHANGES = Number(env.CHANGES ?? 300_000);
const TXN = Number(env.TXN ?? 1000);
const RATE = Number(env.RATE ?? 1000);
const SECONDS = Number(env.SECONDS ?? 60);
const WARMUP_S = Number(env.WARMUP_S ?? 5);
const TIMEOUT_MS = Number(env.TIMEOUT_S ?? 900) * 1000;
const PIPELINES = (env.PIPELINES ?? "zeroloss,debezium").split(",").map((s) => s.trim());
const PHASES = (env.PHASES ?? "backlog,rate").split(",").map((s) => s.trim());
const ZEROLOSS_SERVICES = (env.ZEROLOSS_SERVICES ?? "producer,consumer,counter").split(","); // fewer, for experiments only: the results need all three
const ZEROLOSS_CONFIG = JSON.parse(env.ZEROLOSS_CONFIG ?? "{}"); // merged into zeroloss's config sections, for experiments
const OUT = resolve(env.OUT ?? join(import.meta.dirname, "../results/e2e.json"));
const PROFILE_DIR = env.PROFILE_DIR ? resolve(env.PROFILE_DIR) : null;
const STATEMENTS = env.STATEMENTS === "1"; // pg_stat_statements on the target: its top statements after each fixed-rate run
const PG_BIN = env.PG_BIN ?? "/usr/lib/postgresql/15/bin";
const PARTITIONS = 6;
const MAIN = (name) => resolve(import.meta.dirname, `../../services/${name}/dist/main.js`);

for (const [name, v] of Object.entries({ CHANGES, TXN, RATE, SECONDS })) {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got ${v}`);
}
if (!(WARMUP_S >= 0 && WARMUP_S < SECONDS)) throw new Error(`WARMUP_S (${WARMUP_S}) must be at least 0 and below SECONDS (${SECONDS}): no row would be timed`);
for (const p of PIPELINES) if (p !== "zeroloss" && p !== "debezium") throw new Error(`PIPELINES: ${p} is not zeroloss or debezium`);
for (const p of PHASES) if (p !== "backlog" && p !== "rate") throw new Error(`PHASES: ${p} is not backlog or rate`);

const log = createLogger({ name: "bench-e2e", level: "warn", pretty: true });
const procs = new Processes();
const work = mkdtempSync(join(tmpdir(), "zeroloss-bench-e2e-"));
let runNo = 0;

// --- the stack: both PostgreSQL servers record commit times --------------------------------

function startStack() {
  const settings = { track_commit_timestamp: "on" };
  return startTunedStack(procs, { env, log, sourceSettings: settings, targetSettings: STATEMENTS ? { ...settings, shared_preload_libraries: "pg_stat_statements" } : settings });
}


/** A source database with the schema, a publication per reader and a pgoutput slot each. */
async function prepareSource(url, readers) {
  await sql(url, async (c) => {
    await c.query(SCHEMA_SQL);
    for (const r of readers) {
      await c.query(`CREATE PUBLICATION ${r}_pub FOR TABLE ${TABLES.join(", ")}`);
      await c.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [`${r}_slot`]);
    }
  });
}

async function dropSlots(url, readers) {
  await sql(url, (c) => c.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ANY($1)", [readers.map((r) => `${r}_slot`)]));
}

// --- the pipelines: start(), stop(), pids -------------------------------------------------

async function startZeroloss(stack, sourceUrl, targetUrl) {
  const n = ++runNo;
  const ports = { producer: await freePort(), consumer: await freePort(), counter: await freePort() };
  const config = {
    source: { url: sourceUrl, tables: TABLES.map((t) => `public.${t}`), slot: "zeroloss_slot", publication: "zeroloss_pub", snapshot: { mode: "never" } },
    target: { url: targetUrl },
    kafka: { brokers: [...stack.kafka.brokers], topicPrefix: `zl${n}`, partitions: PARTITIONS },
    producer: { http: { port: ports.producer, host: "127.0.0.1" } },
    consumer: { group: `zl${n}`, http: { port: ports.consumer, host: "127.0.0.1" } },
    counter: { url: targetUrl, group: `zl${n}-counter`, http: { port: ports.counter, host: "127.0.0.1" } },
    log: { level: "warn" },
  };
  for (const [section, values] of Object.entries(ZEROLOSS_CONFIG)) config[section] = { ...config[section], ...values };
  const file = join(work, `zeroloss-${n}.yaml`);
  writeFileSync(file, JSON.stringify(config, null, 2)); // JSON is YAML
  const started = {};
  for (const name of ZEROLOSS_SERVICES) {
    const prof = PROFILE_DIR !== null && name !== "counter" ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${name}-${n}.cpuprofile`] : [];
    started[name] = procs.run(process.execPath, [...prof, "--disable-warning=TimeoutNegativeWarning", MAIN(name), "--config", file], {}, join(work, `${name}-${n}.log`));
  }
  const scrape = async (name) => parseMetrics(await (await fetch(`http://127.0.0.1:${ports[name]}/metrics`, { signal: AbortSignal.timeout(10_000) })).text());
  return {
    pids: Object.fromEntries(Object.entries(started).map(([k, r]) => [k, r.child.pid])),
    /** Where a change's time goes, from the services' own histograms (since their start). */
    async stages() {
      const [p, c] = [await scrape("producer"), await scrape("consumer")];
      const mean = (samples, name) => Number(((1000 * sumOf(samples, `${name}_sum`)) / Math.max(1, sumOf(samples, `${name}_count`))).toFixed(1));
      const q = (samples, name, quantile) => Number((1000 * (histogramQuantile(quantile, histogramBuckets(samples, name)) ?? NaN)).toFixed(0));
      return {
        kafkaTransactions: sumOf(p, "zeroloss_producer_kafka_transaction_seconds_count"),
        kafkaTransactionMeanMs: mean(p, "zeroloss_producer_kafka_transaction_seconds"),
        consumerBatches: sumOf(c, "zeroloss_consumer_batch_records_count"),
        targetTransactions: sumOf(c, "zeroloss_consumer_apply_seconds_count"),
        consumerRecordsPerBatch: Number((sumOf(c, "zeroloss_consumer_batch_records_sum") / Math.max(1, sumOf(c, "zeroloss_consumer_batch_records_count"))).toFixed(1)),
        applyMeanMs: mean(c, "zeroloss_consumer_apply_seconds"),
        applyP99Ms: q(c, "zeroloss_consumer_apply_seconds", 0.99),
        consumerEndToEndP50Ms: q(c, "zeroloss_consumer_end_to_end_seconds", 0.5),
        consumerEndToEndP99Ms: q(c, "zeroloss_consumer_end_to_end_seconds", 0.99),
      };
    },
    assertRunning() {
      for (const [name, r] of Object.entries(started)) {
        if (r.child.exitCode !== null || r.child.signalCode !== null) throw new Error(`zeroloss ${name} exited (${r.child.exitCode ?? r.child.signalCode}):\n${r.output().slice(-3000)}`);
      }
    },
    async stop() {
      for (const name of ["counter", "consumer", "producer"]) if (started[name] !== undefined) await procs.stop(started[name]);
    },
  };
}

async function startDebezium(stack, sourceUrl, targetUrl, runtime) {
  const n = ++runNo;
  const dir = join(work, `connect-${n}`);
  mkdirSync(dir);
  const port = await freePort();
  // The JDBC sink writes into tables that exist: the same DDL as the source's.
  await sql(targetUrl, (c) => c.query(SCHEMA_SQL));
  const worker = await connectWorker(runtime, dir, stack.kafka.brokers, port);
  const r = procs.run(worker.command, worker.args, {}, join(dir, "connect.log"));
  const assertRunning = () => {
    if (r.child.exitCode !== null || r.child.signalCode !== null) throw new Error(`Kafka Connect exited (${r.child.exitCode ?? r.child.signalCode}):\n${r.output().slice(-3000)}`);
  };
  await until("Kafka Connect's REST API", performance.now() + 120_000, 250, async () => {
    assertRunning();
    try {
      return (await fetch(`http://127.0.0.1:${port}/connectors`, { signal: AbortSignal.timeout(2000) })).ok;
    } catch (err) {
      if (err?.cause?.code === "ECONNREFUSED") return false;
      throw err;
    }
  });
  const topicPrefix = `dbz${n}`;
  await putConnector(port, "source", sourceConfig({ source: sourceUrl, slot: "debezium_slot", publication: "debezium_pub", tables: TABLES, topicPrefix, partitions: PARTITIONS }));
  await putConnector(port, "sink", sinkConfig({ target: targetUrl, topicPrefix, tasks: 2 }));
  return {
    pids: { connect: r.child.pid },
    async assertRunning() {
      assertRunning();
      for (const name of ["source", "sink"]) await connectorStates(port, name); // throws on FAILED
    },
    async stop() {
      await procs.stop(r);
    },
  };
}

function startPipeline(name, stack, sourceUrl, targetUrl, runtime) {
  return name === "zeroloss" ? startZeroloss(stack, sourceUrl, targetUrl) : startDebezium(stack, sourceUrl, targetUrl, runtime);
}

/** The stack's own process trees, sampled alongside a pipeline's. */
function stackRoots(stack) {
  return { "postgres-source": stack.source.process.pid, "postgres-target": stack.target.process.pid, kafka: stack.kafka.nodes[0].process.pid };
}

// --- waiting for the target to equal the source -----------------------------------------------

async function drained(pipeline, targetUrl, expected, timeoutMs) {
  const target = new pg.Client({ connectionString: targetUrl });
  await target.connect();
  try {
    const wanted = JSON.stringify(expected.fingerprints);
    await until("the target to equal the source", performance.now() + timeoutMs, 250, async () => {
      await pipeline.assertRunning();
      let now;
      try {
        now = JSON.stringify(await tableFingerprints(target));
      } catch (err) {
        if (err.code === "42P01") return false; // zeroloss creates its target tables with the first records
        throw err;
      }
      if (now !== wanted) return false;
      // The fingerprint matches: the content must, too (else keep waiting: a late update
      // can leave counts and sums equal while a row still differs).
      return JSON.stringify(await tableDigests(target)) === JSON.stringify(expected.digests);
    });
    return performance.now();
  } finally {
    await target.end();
  }
}

async function expectedOf(url) {
  return sql(url, async (c) => ({ fingerprints: await tableFingerprints(c), digests: await tableDigests(c) }));
}

// --- the physical limits ---------------------------------------------------------------------

async function limits(stack, url, endLsn) {
  const recv = await procs.run(join(PG_BIN, "pg_recvlogical"), [
    "-d", url, "--slot", "recv_slot", "--start", "-o", "proto_version=1", "-o", "publication_names=recv_pub", "-f", "/dev/null", "--no-loop", "--endpos", endLsn,
  ]).exited;
  if (recv.code !== 0) throw new Error(`pg_recvlogical failed (${recv.code}):\n${recv.out}`);
  const files = TABLES.map((t) => [t, join(work, `${t}.copy`)]);
  const dump = await procs.run(join(PG_BIN, "psql"), [url, "-v", "ON_ERROR_STOP=1", "-q", ...files.flatMap(([t, f]) => ["-c", `\\copy ${t} TO '${f}'`])]).exited;
  if (dump.code !== 0) throw new Error(`psql \\copy TO failed:\n${dump.out}`);
  const copyUrl = await freshDatabase(stack.target.url, "e2e_copy");
  await sql(copyUrl, (c) => c.query(SCHEMA_SQL));
  const load = await procs.run(join(PG_BIN, "psql"), [copyUrl, "-v", "ON_ERROR_STOP=1", "-q", ...files.flatMap(([t, f]) => ["-c", `\\copy ${t} FROM '${f}'`])]).exited;
  if (load.code !== 0) throw new Error(`psql \\copy FROM failed:\n${load.out}`);
  const rows = await sql(copyUrl, async (c) => Object.values(await tableDigests(c)).reduce((a, t) => a + t.rows, 0));
  await dropDatabase(stack.target.url, "e2e_copy");
  return {
    pgRecvlogicalRowsPerSec: rate(CHANGES, recv.ms),
    pgRecvlogicalSeconds: Number((recv.ms / 1000).toFixed(2)),
    copyRowsPerSec: rate(rows, load.ms),
    copyRows: rows,
    copySeconds: Number((load.ms / 1000).toFixed(2)),
  };
}

// --- backlog drain -----------------------------------------------------------------------------

async function backlogPhase(stack, runtime, summary) {
  const url = await freshDatabase(stack.source.url, "e2e_backlog");
  const readers = [...PIPELINES, "recv"];
  await prepareSource(url, readers);
  const t0 = performance.now();
  const written = await sql(url, (c) => backlog(c, CHANGES, TXN));
  const endLsn = await sql(url, async (c) => (await c.query("SELECT pg_current_wal_lsn()::text AS lsn")).rows[0].lsn);
  const wal = await sql(url, async (c) => (await c.query("SELECT pg_size_pretty(pg_wal_lsn_diff($1, confirmed_flush_lsn)) AS s FROM pg_replication_slots WHERE slot_name = 'recv_slot'", [endLsn])).rows[0].s);
  console.log(`backlog: ${fmt(written)} row changes in transactions of ${TXN} written in ${((performance.now() - t0) / 1000).toFixed(1)} s (${wal} of WAL)`);
  const expected = await expectedOf(url);
  summary.backlog = { changes: written, txnChanges: TXN, wal, finalRows: Object.fromEntries(Object.entries(expected.digests).map(([t, d]) => [t, d.rows])) };

  summary.limits = await limits(stack, url, endLsn);
  console.log(`limits: pg_recvlogical ${fmt(summary.limits.pgRecvlogicalRowsPerSec)} rows/s; COPY ${fmt(summary.limits.copyRowsPerSec)} rows/s (${fmt(summary.limits.copyRows)} rows)`);

  for (const name of PIPELINES) {
    const targetUrl = await freshDatabase(stack.target.url, `e2e_backlog_${name}`);
    const sampler = new ProcessSampler(stackRoots(stack)).start();
    const started = performance.now();
    const pipeline = await startPipeline(name, stack, url, targetUrl, runtime);
    for (const [k, pid] of Object.entries(pipeline.pids)) sampler.add(k, pid);
    try {
      const done = await drained(pipeline, targetUrl, expected, TIMEOUT_MS);
      sampler.stop();
      const seconds = (done - started) / 1000;
      summary[name] = { ...(summary[name] ?? {}), backlog: { rowsPerSec: rate(written, done - started), seconds: Number(seconds.toFixed(2)), contentEqual: true, processes: sampler.report() } };
      console.log(`${name}: backlog of ${fmt(written)} changes drained in ${seconds.toFixed(1)} s = ${fmt(rate(written, done - started))} rows/s (from spawn to equal content)`);
    } finally {
      sampler.stop();
      await pipeline.stop();
    }
    await dropDatabase(stack.target.url, `e2e_backlog_${name}`);
  }
  await dropSlots(url, readers);
  await dropDatabase(stack.source.url, "e2e_backlog");
}

// --- fixed rate ------------------------------------------------------------------------------

async function commitTimes(client, sinceMs) {
  const out = new Map();
  for (const t of TABLES) {
    const { rows } = await client.query(
      `SELECT id::text, (extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000)::float8 AS ms FROM "${t}" WHERE pg_xact_commit_timestamp(xmin) >= to_timestamp($1::float8 / 1000)`,
      [sinceMs],
    );
    for (const r of rows) out.set(`${t}:${r.id}`, r.ms);
  }
  return out;
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function fixedRatePhase(stack, runtime, summary) {
  for (const name of PIPELINES) {
    const sourceUrl = await freshDatabase(stack.source.url, `e2e_rate_${name}`);
    const targetUrl = await freshDatabase(stack.target.url, `e2e_rate_${name}_t`);
    await prepareSource(sourceUrl, [name]);
    if (STATEMENTS) await sql(targetUrl, (c) => c.query("CREATE EXTENSION pg_stat_statements"));
    const pipeline = await startPipeline(name, stack, sourceUrl, targetUrl, runtime);
    const clients = [];
    try {
      for (let i = 0; i < 4; i++) {
        const c = new pg.Client({ connectionString: sourceUrl });
        await c.connect();
        clients.push(c);
      }
      // Warm-up: one transaction through the whole pipeline before the clock starts.
      const workload = new Workload();
      await fixedRate(clients.slice(0, 1), 10, 1, { workload });
      await drained(pipeline, targetUrl, await expectedOf(sourceUrl), 180_000);
      const sampler = new ProcessSampler({ ...stackRoots(stack), ...pipeline.pids }).start();
      const startMs = Date.now();
      const load = await fixedRate(clients, RATE, SECONDS, { workload });
      await drained(pipeline, targetUrl, await expectedOf(sourceUrl), TIMEOUT_MS);
      sampler.stop();
      const stages = (await pipeline.stages?.()) ?? null;
      if (STATEMENTS) {
        const top = await sql(targetUrl, async (c) =>
          (await c.query("SELECT calls, round(total_exec_time)::int AS ms, round((total_exec_time / calls)::numeric, 3) AS avg_ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS q FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT 15")).rows,
        );
        console.log(`${name}: the target's top statements by execution time:`);
        for (const r of top) console.log(`  ${String(r.ms).padStart(7)} ms ${String(r.calls).padStart(7)} calls ${String(r.avg_ms).padStart(8)} ms/call  ${r.q}`);
      }
      const since = startMs + WARMUP_S * 1000;
      const src = await sql(sourceUrl, (c) => commitTimes(c, since));
      const tgt = await sql(targetUrl, (c) => commitTimes(c, since));
      const lat = [];
      for (const [key, ms] of src) {
        const at = tgt.get(key);
        if (at === undefined) throw new Error(`${name}: row ${key} has no commit time in the target after the drain`);
        lat.push(at - ms);
      }
      if (lat.length === 0) throw new Error(`${name}: no row committed after the ${WARMUP_S} s warm-up was found in the source: nothing to time`);
      lat.sort((a, b) => a - b);
      const r = {
        rate: RATE,
        seconds: SECONDS,
        changes: load.changes,
        scheduleBehindMs: load.behindMs,
        rowsMeasured: lat.length,
        p50Ms: Math.round(quantile(lat, 0.5)),
        p99Ms: Math.round(quantile(lat, 0.99)),
        maxMs: Math.round(lat[lat.length - 1]),
        contentEqual: true,
        processes: sampler.report(),
        ...(stages === null ? {} : { stages }),
      };
      summary[name] = { ...(summary[name] ?? {}), fixedRate: r };
      console.log(`${name}: ${fmt(RATE)} changes/s for ${SECONDS} s: latency p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, max ${r.maxMs} ms over ${fmt(lat.length)} rows (schedule behind at most ${load.behindMs} ms)`);
    } finally {
      for (const c of clients) await c.end();
      await pipeline.stop();
    }
    await dropSlots(sourceUrl, [name]);
    await dropDatabase(stack.source.url, `e2e_rate_${name}`);
    await dropDatabase(stack.target.url, `e2e_rate_${name}_t`);
  }
}

// --- the run ------------------------------------------------------------------------------------

const summary = newSummary({ changes: CHANGES, txnChanges: TXN, rate: RATE, seconds: SECONDS, warmupSeconds: WARMUP_S, partitions: PARTITIONS, debeziumVersion: DEBEZIUM_VERSION });
delete summary.pairs;
let failed = false;
try {
  const runtime = PIPELINES.includes("debezium") ? await ensureDebezium() : null;
  const t0 = performance.now();
  const stack = await startStack();
  summary.machine.postgres = await sql(stack.source.url, async (c) => (await c.query("SHOW server_version")).rows[0].server_version);
  summary.machine.kafka = stack.kafka.version;
  summary.machine.java = versionOf("sh", ["-c", "java -version 2>&1"])?.split("\n")[0] ?? null;
  console.log(`stack up in ${((performance.now() - t0) / 1000).toFixed(1)} s: PostgreSQL ${summary.machine.postgres} (source and target), Kafka ${stack.kafka.version}, 1 broker`);
  await warmUpTransactions(stack.kafka.brokers);
  if (PHASES.includes("backlog")) await backlogPhase(stack, runtime, summary);
  if (PHASES.includes("rate")) await fixedRatePhase(stack, runtime, summary);
  if (Object.keys(ZEROLOSS_CONFIG).length > 0) summary.zerolossConfig = ZEROLOSS_CONFIG;
  if (env.ZEROLOSS_SERVICES !== undefined) summary.zerolossServices = ZEROLOSS_SERVICES;
  if (summary.zeroloss?.backlog !== undefined && summary.debezium?.backlog !== undefined && summary.zeroloss?.fixedRate !== undefined && summary.debezium?.fixedRate !== undefined) {
    summary.ratios = {
      backlogThroughput: Number((summary.zeroloss.backlog.rowsPerSec / summary.debezium.backlog.rowsPerSec).toFixed(2)),
      p99Latency: Number((summary.zeroloss.fixedRate.p99Ms / summary.debezium.fixedRate.p99Ms).toFixed(2)),
    };
    summary.goals = { throughputAtLeast1_5x: summary.ratios.backlogThroughput >= 1.5, p99NoWorse: summary.ratios.p99Latency <= 1 };
  }
  for (const name of PIPELINES) {
    // The shape bench/README.md promises: the headline figures next to the details.
    Object.assign(summary[name], { rowsPerSec: summary[name].backlog?.rowsPerSec ?? null, p50Ms: summary[name].fixedRate?.p50Ms ?? null, p99Ms: summary[name].fixedRate?.p99Ms ?? null });
  }
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(summary, null, 2) + "\n");
} catch (err) {
  failed = true;
  console.error(`bench/e2e failed: ${err?.stack ?? err}\nlogs: ${work}`);
} finally {
  await procs.cleanup();
}
console.log(JSON.stringify(summary, null, 2));
process.exit(failed ? 1 : 0);

