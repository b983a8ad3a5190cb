// Consumer throughput against a plain COPY of the same rows, with validation on.
//
// Once: a source database with ROWS benchmark rows (bench/common.mjs: bigint key,
// numeric(18,4), 40-character text, timestamptz, small jsonb), read into Kafka by the real
// producer (snapshot mode initial_only: one `r` record per row, 6 partitions, exits when
// done), and the same rows dumped to a file with psql's \copy. Then PAIRS pairs, one after
// the other because the machine is noisy:
//   1. COPY: `psql \copy bench_rows FROM <file>` into an identical empty table of a fresh
//      target database, timed as a process; its content must equal the source's;
//   2. the consumer: `node services/consumer/dist/main.js` with a fresh group on a fresh
//      target database (it creates the table, the bookkeeping, and validates every row's
//      checksum in SQL), timed from its spawn until zeroloss_consumer_records_total
//      {result="applied"} reaches ROWS. "Startup" is spawn to the first applied record,
//      "steady" the rate after it. The target's content must then equal the source's, with
//      nothing quarantined or counted duplicate.
// Ratio = consumer rows/s ÷ COPY rows/s of the same pair (the goal: at least 30%).
//
// Usage: npm run bench:consumer            (ROWS=1000000 PAIRS=2)
//        ROWS=100000 PAIRS=1 node bench/consumer/run.mjs
//        PROFILE_DIR=/tmp/prof node bench/consumer/run.mjs      (node --cpu-prof on the consumer)
//        CONSUMER_CONFIG='{"partitionsConcurrently":3}' merges keys into the consumer section.
// Prints one line per measurement and a JSON summary last.
import { mkdtempSync, writeFileSync, rmSync, mkdirSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "@zeroloss/devstack";
import { createLogger } from "@zeroloss/observability";
import {
  Processes,
  TABLE_DDL,
  contentDigest,
  coresBusy,
  cpuSeconds,
  dropDatabase,
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
  until,
} from "../common.mjs";

const env = process.env;
const ROWS = Number(env.ROWS ?? process.argv[2] ?? 1_000_000);
const PAIRS = Number(env.PAIRS ?? 2);
const TIMEOUT_MS = Number(env.TIMEOUT_S ?? 900) * 1000; // per measurement
const PROFILE_DIR = env.PROFILE_DIR ? resolve(env.PROFILE_DIR) : null;
const CONSUMER_CONFIG = JSON.parse(env.CONSUMER_CONFIG ?? "{}");
const PG_BIN = env.PG_BIN ?? "/usr/lib/postgresql/15/bin";
const PRODUCER_MAIN = resolve(import.meta.dirname, "../../services/producer/dist/main.js");
const CONSUMER_MAIN = resolve(import.meta.dirname, "../../services/consumer/dist/main.js");
const PREFIX = "benchc";

for (const [name, v] of Object.entries({ ROWS, PAIRS })) {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got ${v}`);
}

const log = createLogger({ name: "bench", level: "warn", pretty: true });
const procs = new Processes();
const work = mkdtempSync(join(tmpdir(), "zeroloss-bench-consumer-"));
let stack = null;

function writeConfig(name, config) {
  const file = join(work, `${name}.yaml`);
  writeFileSync(file, JSON.stringify(config, null, 2)); // JSON is YAML
  return file;
}


// --- the backlog in Kafka, and the same rows in a file ------------------------------------

async function load() {
  const url = await freshDatabase(stack.source, "bench_src");
  const t0 = performance.now();
  const source = await sql(url, async (c) => {
    await c.query(TABLE_DDL());
    await insertBacklog(c, ROWS, 50_000);
    return contentDigest(c, "bench_rows");
  });
  const file = join(work, "rows.copy");
  const dump = await procs.run(join(PG_BIN, "psql"), [url, "-v", "ON_ERROR_STOP=1", "-q", "-c", `\\copy bench_rows TO '${file}'`]).exited;
  if (dump.code !== 0) throw new Error(`psql \\copy TO failed:\n${dump.out}`);
  console.log(`source: ${fmt(ROWS)} rows inserted and dumped in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const configFile = writeConfig("producer", {
    source: { url, tables: ["public.bench_rows"], slot: "zeroloss_bench_consumer", snapshot: { mode: "initial_only" } },
    target: { url: stack.target },
    kafka: { brokers: [...stack.kafka], topicPrefix: PREFIX },
    producer: { http: { port: await freePort(), host: "127.0.0.1" } },
    log: { level: "warn" },
  });
  const r = procs.run(process.execPath, [PRODUCER_MAIN, "--config", configFile]);
  const timer = setTimeout(() => r.child.kill("SIGKILL"), TIMEOUT_MS);
  const done = await r.exited;
  clearTimeout(timer);
  if (done.code !== 0) throw new Error(`the producer (initial_only) exited with ${done.code ?? done.signal}:\n${done.out}`);
  console.log(`kafka: the producer's snapshot wrote ${fmt(ROWS)} rows in ${(done.ms / 1000).toFixed(1)} s`);
  return { url, file, source };
}

// --- COPY ----------------------------------------------------------------------------------

async function measureCopy(loaded, pair) {
  const db = `bench_copy_${pair}`;
  const url = await freshDatabase(stack.target, db);
  try {
    await sql(url, async (c) => {
      await c.query(TABLE_DDL());
      await c.query("CHECKPOINT");
    });
    const m0 = machineCpu();
    const done = await procs.run(join(PG_BIN, "psql"), [url, "-v", "ON_ERROR_STOP=1", "-q", "-c", `\\copy bench_rows FROM '${loaded.file}'`]).exited;
    if (done.code !== 0) throw new Error(`psql \\copy FROM failed:\n${done.out}`);
    const busy = coresBusy(m0, machineCpu());
    const got = await sql(url, (c) => contentDigest(c, "bench_rows"));
    if (got.rows !== ROWS || got.digest !== loaded.source.digest) throw new Error(`COPY loaded ${got.rows} rows with digest ${got.digest}; the source has ${ROWS}, ${loaded.source.digest}`);
    return { ms: done.ms, rowsPerSec: rate(ROWS, done.ms), machineCoresBusy: busy };
  } finally {
    await dropDatabase(stack.target, db);
  }
}

// --- the floor: kafkajs reading the same records and doing nothing with them ---------------

const READ_ONLY_MAIN = resolve(import.meta.dirname, "read-only.mjs");

async function measureReadOnly(pair, parse) {
  const kafkaPid = stack.pids["kafka-1"] ?? null;
  const kafkaCpu0 = kafkaPid === null ? null : cpuSeconds(kafkaPid);
  const m0 = machineCpu();
  const r = procs.run(process.execPath, [READ_ONLY_MAIN, stack.kafka.join(","), `${PREFIX}.public.bench_rows`, `bench-read-only-${pair}${parse ? "-parse" : ""}`, String(ROWS), ...(parse ? ["parse"] : [])]);
  const timer = setTimeout(() => r.child.kill("SIGKILL"), TIMEOUT_MS);
  const done = await r.exited;
  clearTimeout(timer);
  if (done.code !== 0) throw new Error(`read-only.mjs exited with ${done.code ?? done.signal}:\n${done.out}`);
  const got = JSON.parse(done.out.trim().split("\n").at(-1));
  if (got.records !== ROWS) throw new Error(`read-only.mjs read ${got.records} records, not ${ROWS}`);
  return {
    ms: got.ms,
    rowsPerSec: rate(ROWS, got.ms),
    steadyRowsPerSec: rate(ROWS, got.steadyMs),
    valueBytes: got.valueBytes,
    cpuSeconds: { reader: got.cpuSeconds, kafka: kafkaCpu0 === null ? null : Number((cpuSeconds(kafkaPid) - kafkaCpu0).toFixed(2)), machineCoresBusy: coresBusy(m0, machineCpu()) },
  };
}

// --- the consumer --------------------------------------------------------------------------

async function measureConsumer(loaded, pair) {
  const db = `bench_target_${pair}`;
  const url = await freshDatabase(stack.target, db);
  await sql(url, (c) => c.query("CHECKPOINT"));
  const port = await freePort();
  const configFile = writeConfig(`consumer-${pair}`, {
    source: { url: loaded.url, tables: ["public.bench_rows"] },
    target: { url },
    kafka: { brokers: [...stack.kafka], topicPrefix: PREFIX },
    consumer: { group: `bench-consumer-${pair}`, http: { port, host: "127.0.0.1" }, ...CONSUMER_CONFIG },
    log: { level: "warn" },
  });
  const nodeArgs = [];
  if (PROFILE_DIR !== null) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    nodeArgs.push("--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=consumer-${pair}.cpuprofile`);
  }
  const kafkaPid = stack.pids["kafka-1"] ?? null;
  const kafkaCpu0 = kafkaPid === null ? null : cpuSeconds(kafkaPid);
  const m0 = machineCpu();
  const r = procs.run(process.execPath, [...nodeArgs, CONSUMER_MAIN, "--config", configFile]);
  let firstAt = null;
  let firstApplied = 0;
  let doneAt = null;
  let cpu = null;
  let kafkaCpu = null;
  let busy = null;
  let batches = null;
  let applySeconds = null;
  try {
    await until(`the consumer to apply ${fmt(ROWS)} rows`, r.t0 + TIMEOUT_MS, 100, async () => {
      if (r.child.exitCode !== null || r.child.signalCode !== null) throw new Error(`the consumer exited early (${r.child.exitCode ?? r.child.signalCode}):\n${r.output()}`);
      const applied = await metricSumIfUp(port, "zeroloss_consumer_records_total", 'result="applied"');
      const now = performance.now();
      if (applied !== null && applied > 0 && firstAt === null) {
        firstAt = now;
        firstApplied = applied;
      }
      if (applied === null || applied < ROWS) return false;
      doneAt = now;
      cpu = cpuSeconds(r.child.pid);
      kafkaCpu = kafkaCpu0 === null ? null : Number((cpuSeconds(kafkaPid) - kafkaCpu0).toFixed(2));
      busy = coresBusy(m0, machineCpu());
      return true;
    });
    const others = await metricSumIfUp(port, "zeroloss_consumer_records_total", "");
    batches = await metricSumIfUp(port, "zeroloss_consumer_batch_records_count");
    applySeconds = await metricSumIfUp(port, "zeroloss_consumer_apply_seconds_sum");
    if (others !== ROWS) throw new Error(`the consumer counted ${others} records in all for ${ROWS} applied: duplicates or quarantined rows in a clean run`);
  } catch (err) {
    throw new Error(`${err.message}\nconsumer output:\n${r.output()}`);
  } finally {
    await procs.stop(r);
  }
  try {
    const got = await sql(url, async (c) => ({
      ...(await contentDigest(c, "public.bench_rows")),
      quarantined: Number((await c.query("SELECT count(*) AS n FROM zeroloss.quarantine")).rows[0].n),
    }));
    if (got.rows !== ROWS || got.digest !== loaded.source.digest || got.quarantined !== 0) {
      throw new Error(`the consumer's target holds ${got.rows} rows with digest ${got.digest} and ${got.quarantined} quarantined; the source has ${ROWS}, ${loaded.source.digest}`);
    }
  } finally {
    await dropDatabase(stack.target, db);
  }
  const ms = doneAt - r.t0;
  return {
    ms,
    rowsPerSec: rate(ROWS, ms),
    startupMs: firstAt - r.t0,
    steadyRowsPerSec: doneAt > firstAt ? rate(ROWS - firstApplied, doneAt - firstAt) : null,
    cpuSeconds: { consumer: cpu, kafka: kafkaCpu, machineCoresBusy: busy },
    batches,
    applySeconds: Number(applySeconds.toFixed(2)),
  };
}

// --- main ----------------------------------------------------------------------------------

const summary = newSummary({ rows: ROWS, consumerConfig: CONSUMER_CONFIG });
await runBench("bench:consumer", summary, 0.3, async () => {
  console.log(`bench:consumer ${fmt(ROWS)} rows, ${PAIRS} pair(s); ${cpus().length} cores, ${summary.machine.ramGiB} GiB, node ${process.version}`);
  stack = await startBenchStack(procs, summary, log);
  const loaded = await load();
  for (let pair = 1; pair <= PAIRS; pair++) {
    const copy = await measureCopy(loaded, pair);
    console.log(`pair ${pair}: COPY      ${fmt(copy.rowsPerSec).padStart(9)} rows/s  (${(copy.ms / 1000).toFixed(2)} s; ${copy.machineCoresBusy ?? "?"} of ${cpus().length} cores busy)`);
    const floor = {};
    for (const parse of [false, true]) {
      const f = await measureReadOnly(pair, parse);
      floor[parse ? "readAndParse" : "readOnly"] = f;
      console.log(
        `pair ${pair}: ${parse ? "read+parse" : "read only "} ${fmt(f.rowsPerSec).padStart(8)} rows/s  (kafkajs${parse ? " + JSON.parse" : ", no work"}: ${(f.ms / 1000).toFixed(2)} s, then ${fmt(f.steadyRowsPerSec)} rows/s; ` +
          `${Math.round(f.valueBytes / ROWS)} value bytes a record; CPU s: reader ${f.cpuSeconds.reader}, kafka ${f.cpuSeconds.kafka ?? "?"}; ${f.cpuSeconds.machineCoresBusy ?? "?"} of ${cpus().length} cores busy)`,
      );
    }
    const cons = await measureConsumer(loaded, pair);
    const ratio = cons.rowsPerSec / copy.rowsPerSec;
    console.log(
      `pair ${pair}: consumer  ${fmt(cons.rowsPerSec).padStart(9)} rows/s  (${(cons.ms / 1000).toFixed(2)} s; startup ${(cons.startupMs / 1000).toFixed(2)} s, ` +
        `then ${cons.steadyRowsPerSec === null ? "-" : fmt(cons.steadyRowsPerSec)} rows/s; CPU s: consumer ${cons.cpuSeconds.consumer ?? "?"}, kafka ${cons.cpuSeconds.kafka ?? "?"}; ` +
        `${cons.cpuSeconds.machineCoresBusy ?? "?"} of ${cpus().length} cores busy; ${cons.batches} batches, ${cons.applySeconds} s in their transactions) ratio ${(ratio * 100).toFixed(1)}%  [target = source: ${fmt(ROWS)} rows, 0 quarantined]`,
    );
    summary.pairs.push({ pair, copy, ...floor, consumer: cons, ratio: Number(ratio.toFixed(3)) });
  }
}, async () => {
  await procs.cleanup();
  rmSync(work, { recursive: true, force: true });
});
