// The initial load: the producer's initial snapshot -> Kafka -> the consumer -> the target,
// against a direct COPY pipe between the same two PostgreSQL servers, in one run.
//
// One stack for the whole run (source and target PostgreSQL, 1 Kafka broker, all local; topics
// of 6 partitions). For each entry T of TABLES: a fresh source database with T tables
// bench_rows_1..T of the benchmark row (bench/common.mjs: bigint key, numeric(18,4),
// 40-character text, timestamptz, small jsonb), ROWS/T rows each (ids 1..ROWS/T), VACUUM
// ANALYZEd. Then, one after the other because the machine is noisy:
//   1. the COPY pipe: for each table, `psql -c "COPY <t> TO STDOUT" <source> | psql -c "COPY
//      <t> FROM STDIN" <target>` into an identical empty table (same columns, same primary
//      key) of a fresh target database, as one shell pipeline, timed as a process; the tables
//      one after the other, their wall times summed. Each table's content (count and an
//      order-independent md5 digest over the columns) must equal the source's;
//   2. for each W of WORKERS, the floor: zeroloss's own SQL at both ends with nothing between
//      (measureFloor): W connections per side, each chunk the producer's COPY query (the
//      source computes each row's checksum) piped into the consumer's staging COPY, its
//      validation (no mismatch allowed) and LSN-guarded merge, one transaction per chunk. No
//      Kafka and no per-row work in Node: the rate no pipeline that validates at both ends
//      this way can pass on these servers;
//   3. for each W of WORKERS: zeroloss from a cold start. A fresh target database, topic
//      prefix, slot, publication and consumer group; `source.snapshot.mode: initial`,
//      `source.snapshot.workers: W`. The producer and the consumer (services/*/dist/main.js
//      --config <file>) are spawned at the same moment and timed from there until the
//      target's tables hold every row: polled every 500 ms, counted (count(*) summed over the
//      tables) once the producer has committed every row, at most a fifth of the time (a
//      table found complete is not counted again; the time is that of the count's start). "First
//      row" is spawn to the first row seen on the target; "in Kafka" is spawn to the
//      producer's zeroloss_producer_snapshot_rows reaching ROWS (informative). Then the
//      producer and the consumer are stopped (SIGTERM), the slot and the publication dropped,
//      and each target table's content must equal the source's, with zeroloss.quarantine
//      empty. Errors the services counted and recovered from (zeroloss_*_errors_total) are
//      printed and recorded, and keep their logs.
// Ratio = zeroloss rows/s ÷ COPY pipe rows/s of the same table count (goal: at least 30%).
// CPU seconds and peak memory (PSS) of each process tree (producer, consumer, source and
// target PostgreSQL with their backends, Kafka) are sampled each second, up to the moment the
// target was complete; a backend that ended meanwhile counts (its postmaster's reaped
// children). The COPY pipe's psql processes count as "psql". "Cores busy" is the whole
// machine over the measurement. The polls' count(*) runs on the target too: their total time
// is recorded (pollSeconds). A cold start includes the consumer's wait for the data topics
// (it lists them every consumer.topicPollMs, 5 s by default).
//
// Usage: npm run bench:snapshot            (ROWS=1000000 TABLES=1,5 WORKERS=1,2)
//        ROWS=20000 TABLES=1,2 WORKERS=1,2 TIMEOUT_S=900 node bench/snapshot/run.mjs
//        ZEROLOSS_CONFIG='{"source":{"snapshot":{"chunkSize":5000}}}' merges keys into the
//            config, objects key by key (experiments; WORKERS still sets the workers)
//        PROFILE_DIR=/tmp/prof   node --cpu-prof on the producer and the consumer
//        PG_BIN=/usr/lib/postgresql/15/bin   where psql is
//        LOG_DIR=<dir>   keeps the configs and the services' logs (default: a temp folder, kept on failure)
// Prints one line per measurement and a JSON summary last; writes it to
// bench/results/snapshot.json (OUT=<file> elsewhere) when the run did not fail.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { parseConfig } from "@zeroloss/config";
import { freePort } from "@zeroloss/devstack";
import { createLogger } from "@zeroloss/observability";
import {
  Processes,
  ProcessSampler,
  TABLE_DDL,
  contentDigest,
  coresBusy,
  cpuSeconds,
  dropDatabase,
  fmt,
  freshDatabase,
  insertBacklog,
  machineCpu,
  mergeConfig,
  metricSumIfUp,
  newSummary,
  rate,
  reapedChildrenCpuSeconds,
  runBench,
  sql,
  startBenchStack,
  until,
} from "../common.mjs";

const env = process.env;
const list = (name, dflt) =>
  (env[name] ?? dflt).split(",").map((s) => {
    const v = Number(s.trim());
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a list of positive integers, got ${env[name]}`);
    return v;
  });
const ROWS = Number(env.ROWS ?? 1_000_000);
const TABLES = list("TABLES", "1,5");
const WORKERS = list("WORKERS", "1,2");
const TIMEOUT_MS = Number(env.TIMEOUT_S ?? 900) * 1000; // per measurement
const PG_BIN = env.PG_BIN ?? "/usr/lib/postgresql/15/bin";
const ZEROLOSS_CONFIG = JSON.parse(env.ZEROLOSS_CONFIG ?? "{}");
const OUT = resolve(env.OUT ?? join(import.meta.dirname, "../results/snapshot.json"));
const PROFILE_DIR = env.PROFILE_DIR ? resolve(env.PROFILE_DIR) : null;
const PARTITIONS = 6;
const POLL_MS = 500;
const MAIN = (name) => resolve(import.meta.dirname, `../../services/${name}/dist/main.js`);

if (!Number.isInteger(ROWS) || ROWS <= 0) throw new Error(`ROWS must be a positive integer, got ${env.ROWS}`);
if (!(TIMEOUT_MS > 0)) throw new Error(`TIMEOUT_S must be positive, got ${env.TIMEOUT_S}`);
for (const t of TABLES) if (ROWS % t !== 0) throw new Error(`TABLES: ${fmt(ROWS)} rows do not split evenly over ${t} tables`);

const log = createLogger({ name: "bench-snapshot", level: "warn", pretty: true });
const procs = new Processes();
const work = env.LOG_DIR ? resolve(env.LOG_DIR) : mkdtempSync(join(tmpdir(), "zeroloss-bench-snapshot-"));
mkdirSync(work, { recursive: true });
if (PROFILE_DIR !== null) mkdirSync(PROFILE_DIR, { recursive: true });
let stack = null;
let finished = false;
let keepLogs = false; // a measurement's services reported errors: their logs stay
const seconds = (ms) => Number((ms / 1000).toFixed(2));
const tableNames = (t) => Array.from({ length: t }, (_, i) => `bench_rows_${i + 1}`);

// --- the zeroloss config ---------------------------------------------------------------------

function zerolossConfig({ sourceUrl, targetUrl, tables, tag, workers, ports }) {
  const config = mergeConfig(
    {
      source: { url: sourceUrl, tables: tables.map((t) => `public.${t}`), slot: `zl_snap_${tag}`, publication: `zl_snap_${tag}`, snapshot: { mode: "initial" } },
      target: { url: targetUrl },
      kafka: { brokers: [...(stack?.kafka ?? ["127.0.0.1:9092"])], topicPrefix: `snap-${tag}`, partitions: PARTITIONS },
      producer: { http: { port: ports.producer, host: "127.0.0.1" } },
      consumer: { group: `snap-${tag}`, http: { port: ports.consumer, host: "127.0.0.1" } },
      log: { level: "warn" },
    },
    ZEROLOSS_CONFIG,
  );
  config.source.snapshot = { ...config.source.snapshot, workers };
  return config;
}

/** The services' own validation, before anything is spawned: a config that does not take source.snapshot.workers fails here, by name. */
function checkConfig(config, where) {
  let parsed;
  try {
    parsed = parseConfig(JSON.stringify(config, null, 2), where);
  } catch (err) {
    if (err?.code !== "CONFIG_INVALID") throw err;
    // An unknown key is reported on its object: source.snapshot, naming "workers".
    const aboutWorkers = (err.problems ?? []).some((p) => p.path === "source.snapshot" && p.message.includes("workers"));
    throw new Error(
      aboutWorkers
        ? `the zeroloss config rejects source.snapshot.workers, which this benchmark varies (WORKERS): is it in packages/config/src/schema.ts, and built (npm run build)?\n${err.message}`
        : `the benchmark's zeroloss config is invalid:\n${err.message}`,
    );
  }
  if (parsed.source.snapshot.workers !== config.source.snapshot.workers) {
    throw new Error(`the zeroloss config read source.snapshot.workers as ${parsed.source.snapshot.workers}, not ${config.source.snapshot.workers}`);
  }
}

function writeConfig(tag, config) {
  const file = join(work, `zeroloss-${tag}.yaml`);
  writeFileSync(file, JSON.stringify(config, null, 2)); // JSON is YAML
  checkConfig(config, file);
  return file;
}

/** The stack's process trees (local mode; none under docker), named for the summary. */
function stackRoots() {
  const names = { "postgres-source": "postgres-source", "postgres-target": "postgres-target", "kafka-1": "kafka" };
  return Object.fromEntries(Object.entries(names).filter(([k]) => stack.pids[k] !== undefined).map(([k, name]) => [name, stack.pids[k]]));
}

const checkpoint = (url) => sql(url, (c) => c.query("CHECKPOINT"));

// --- the source -------------------------------------------------------------------------------

async function loadSource(t) {
  const perTable = ROWS / t;
  const tables = tableNames(t);
  const url = await freshDatabase(stack.source, "bench_snap_src");
  const t0 = performance.now();
  const digests = await sql(url, async (c) => {
    const out = {};
    for (const name of tables) {
      await c.query(TABLE_DDL(name));
      await insertBacklog(c, perTable, 50_000, name);
      await c.query(`VACUUM ANALYZE ${name}`);
      out[name] = await contentDigest(c, name);
      if (out[name].rows !== perTable) throw new Error(`${name} holds ${out[name].rows} rows after the insert, not ${perTable}`);
    }
    return out;
  });
  console.log(`T=${t}: source ${t} × ${fmt(perTable)} rows inserted, vacuumed and digested in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { url, tables, perTable, digests };
}

async function expectEqual(what, url, source, extra = async () => ({})) {
  const got = await sql(url, async (c) => {
    const out = {};
    for (const name of source.tables) out[name] = await contentDigest(c, `public.${name}`);
    return { digests: out, ...(await extra(c)) };
  });
  for (const name of source.tables) {
    const [g, s] = [got.digests[name], source.digests[name]];
    if (g.rows !== s.rows || g.digest !== s.digest) throw new Error(`${what}: ${name} holds ${g.rows} rows with digest ${g.digest}; the source has ${s.rows}, ${s.digest}`);
  }
  return got;
}

// --- the COPY pipe -----------------------------------------------------------------------------

// psql path, source URL, target URL and table as positional parameters: nothing is quoted into the script.
const PIPE = '"$0" -X -q -v ON_ERROR_STOP=1 -c "COPY $3 TO STDOUT" "$1" | "$0" -X -q -v ON_ERROR_STOP=1 -c "COPY $3 FROM STDIN" "$2"';

async function measureCopy(source) {
  const db = "bench_snap_copy";
  const url = await freshDatabase(stack.target, db);
  try {
    await sql(url, async (c) => {
      for (const name of source.tables) await c.query(TABLE_DDL(name));
    });
    await checkpoint(source.url);
    await checkpoint(url);
    const sampler = new ProcessSampler(stackRoots(), 1000, { reaped: true }).start();
    const m0 = machineCpu();
    const clients0 = reapedChildrenCpuSeconds(process.pid); // the pipes' shells and psqls, once ended
    let ms = 0;
    for (const name of source.tables) {
      const done = await procs.run("bash", ["-o", "pipefail", "-c", PIPE, join(PG_BIN, "psql"), source.url, url, name]).exited;
      if (done.code !== 0) throw new Error(`the COPY pipe of ${name} failed (${done.code ?? done.signal}):\n${done.out}`);
      ms += done.ms;
    }
    const busy = coresBusy(m0, machineCpu());
    const clients = clients0 === null ? null : Number((reapedChildrenCpuSeconds(process.pid) - clients0).toFixed(2));
    sampler.stop();
    await expectEqual("the COPY pipe", url, source);
    return { ms: Math.round(ms), rowsPerSec: rate(ROWS, ms), machineCoresBusy: busy, processes: { ...sampler.report(), psql: { cpuS: clients } } };
  } finally {
    await dropDatabase(stack.target, db);
  }
}

// --- the floor: zeroloss's SQL at both ends, nothing between -----------------------------------

// The statements zeroloss runs, from the services' own builds: the producer's chunk query
// (COPY of the source's checksum and the values, in key order) and the consumer's staging
// table, checksum validation and LSN-guarded merge.
const { TableRanges } = await import("../../services/producer/dist/snapshot-ranges.js");
const { tableSql, BULK_RECORD_SETTING, BULK_LSN_SETTING } = await import("../../services/consumer/dist/table-sql.js");
const { ensureBookkeeping } = await import("../../services/consumer/dist/target-schema.js");
const { describeTable } = await import("@zeroloss/pg");

/**
 * W connections to each side; each reads its share of every table's key range in chunks of
 * CHUNK rows: the source's COPY TO (the producer's query, its key field added in SQL) piped
 * straight into the target's staging COPY, then validateSums (no row may mismatch) and the
 * merge, one transaction per chunk. What is left out: Kafka, and every byte Node handles
 * (the producer's per-row key and partition, both JSON encodings, the consumer's decoding).
 * Its rate bounds what the pipeline can reach on this machine with validation at both ends.
 */
async function measureFloor(source, w) {
  const db = "bench_snap_floor";
  const url = await freshDatabase(stack.target, db);
  const chunk = Number(ZEROLOSS_CONFIG?.source?.snapshot?.chunkSize ?? 10_000);
  try {
    const infos = await sql(source.url, async (c) => Promise.all(source.tables.map((n) => describeTable(c, { schema: "public", name: n }))));
    await sql(url, async (c) => {
      await ensureBookkeeping(c);
      // Schema-qualified: the bookkeeping schema is named like the dev user, first on its search_path.
      for (const name of source.tables) await c.query(`${TABLE_DDL(`public.${name}`).replace(/\)\s*$/, "")}, _zeroloss_lsn pg_lsn)`);
    });
    await checkpoint(source.url);
    await checkpoint(url);
    const sampler = new ProcessSampler(stackRoots(), 1000, { reaped: true }).start();
    const m0 = machineCpu();
    const t0 = performance.now();
    const work = infos.flatMap((info) =>
      Array.from({ length: Math.ceil(source.perTable / chunk) }, (_, i) => ({ info, from: i * chunk, to: Math.min(source.perTable, (i + 1) * chunk) })),
    );
    const cpu0 = cpuSeconds(process.pid);
    await Promise.all(
      Array.from({ length: w }, async () => {
        const src = new pg.Client({ connectionString: source.url, application_name: "bench-floor-source" });
        const dst = new pg.Client({ connectionString: url, application_name: "bench-floor-target" });
        await src.connect();
        await dst.connect();
        try {
          const staged = new Map();
          for (let job = work.shift(); job !== undefined; job = work.shift()) {
            const { info } = job;
            const ranges = new TableRanges(info);
            const target = {
              schema: "public",
              name: info.name,
              quoted: `"public"."${info.name}"`,
              columns: info.columns.map((c) => ({ name: c.name, column: c.name, type: c.sqlType })),
              keyIndexes: [0],
              columnsJson: "[]",
            };
            let t = staged.get(info.name);
            if (t === undefined) {
              t = tableSql(target, `zl_stage_${staged.size}`);
              await dst.query(t.createStaging);
              staged.set(info.name, t);
            }
            const range = { after: job.from === 0 ? null : [String(job.from)], to: [String(job.to)], lastKey: null, done: false, rows: 0 };
            // The producer's query with the key field in front (the producer adds it in Node).
            const copyOut = ranges.chunkCopy(range, chunk).replace("COPY (SELECT ", `COPY (SELECT '{"id":"' || "id" || '"}', `);
            await dst.query(`BEGIN; SELECT set_config('${BULK_RECORD_SETTING}', '0', true), set_config('${BULK_LSN_SETTING}', '0/10', true)`);
            await pipeline(src.query(copyTo(copyOut)), dst.query(copyFrom(t.copyBulk)));
            const bad = await dst.query(t.validateSums);
            if (bad.rows.length > 0) throw new Error(`the floor's validation found ${bad.rows.length} mismatching rows of ${info.name}`);
            await dst.query(t.upsert, ["0/0", target.quoted, false]);
            await dst.query("COMMIT");
          }
        } finally {
          await src.end();
          await dst.end();
        }
      }),
    );
    const ms = performance.now() - t0;
    const busy = coresBusy(m0, machineCpu());
    const node = cpuSeconds(process.pid) - cpu0;
    sampler.stop();
    await expectEqual("the floor", url, source);
    return { ms: Math.round(ms), rowsPerSec: rate(ROWS, ms), machineCoresBusy: busy, processes: { ...sampler.report(), "bench (node, piping bytes)": { cpuS: Number(node.toFixed(2)) } } };
  } finally {
    await dropDatabase(stack.target, db);
  }
}

// --- zeroloss from a cold start ---------------------------------------------------------------

/** Rows on the target, summed over the tables; a table found complete is not counted again. */
class TargetRows {
  #client;
  #tables;
  #complete = new Set();

  constructor(url, tables, perTable) {
    this.#client = new pg.Client({ connectionString: url, application_name: "bench-snapshot-poll" });
    this.#tables = tables;
    this.perTable = perTable;
    this.pollMs = 0;
  }

  connect() {
    return this.#client.connect();
  }

  /** Whether any table holds a row yet (cheap: no scan). */
  async any() {
    const open = this.#tables.filter((t) => !this.#complete.has(t));
    const { rows: present } = await this.#client.query(
      "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') AND relname = ANY($1)",
      [open],
    );
    if (present.length === 0) return false;
    const { rows } = await this.#client.query(`SELECT ${present.map((r) => `EXISTS (SELECT 1 FROM public.${r.relname})`).join(" OR ")} AS any`);
    return rows[0].any === true;
  }

  async count() {
    const t0 = performance.now();
    const open = this.#tables.filter((t) => !this.#complete.has(t));
    // The consumer creates each table with its first records: count only those that exist.
    const { rows: present } = await this.#client.query(
      "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') AND relname = ANY($1)",
      [open],
    );
    const existing = open.filter((t) => present.some((r) => r.relname === t));
    let total = this.#complete.size * this.perTable;
    if (existing.length > 0) {
      const { rows } = await this.#client.query(`SELECT ${existing.map((t, i) => `(SELECT count(*) FROM public.${t})::bigint AS c${i}`).join(", ")}`);
      existing.forEach((t, i) => {
        const n = Number(rows[0][`c${i}`]);
        if (n > this.perTable) throw new Error(`the target's ${t} holds ${n} rows, more than the source's ${this.perTable}`);
        if (n === this.perTable) this.#complete.add(t);
        total += n;
      });
    }
    this.pollMs += performance.now() - t0;
    return total;
  }

  end() {
    return this.#client.end();
  }
}

async function dropSlotAndPublication(url, slot, publication) {
  await sql(url, async (c) => {
    // The walsender may outlive the producer's exit by a moment: the slot is dropped once inactive.
    await until(`slot ${slot} to be released`, performance.now() + 30_000, 200, async () => {
      const { rows } = await c.query("SELECT active FROM pg_replication_slots WHERE slot_name = $1", [slot]);
      return rows.length === 0 || rows[0].active === false;
    });
    await c.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", [slot]);
    await c.query(`DROP PUBLICATION IF EXISTS ${publication}`);
  });
}

async function measureZeroloss(source, t, w) {
  const tag = `t${t}_w${w}`;
  const db = `bench_snap_${tag}`;
  const targetUrl = await freshDatabase(stack.target, db);
  const ports = { producer: await freePort(), consumer: await freePort() };
  const config = zerolossConfig({ sourceUrl: source.url, targetUrl, tables: source.tables, tag, workers: w, ports });
  const file = writeConfig(tag, config);
  await checkpoint(source.url);
  await checkpoint(targetUrl);
  const target = new TargetRows(targetUrl, source.tables, source.perTable);
  await target.connect();

  const sampler = new ProcessSampler(stackRoots(), 1000, { reaped: true }).start();
  const m0 = machineCpu();
  const t0 = performance.now();
  const started = {};
  for (const name of ["producer", "consumer"]) {
    const prof = PROFILE_DIR === null ? [] : ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${name}-${tag}.cpuprofile`];
    started[name] = procs.run(process.execPath, [...prof, "--disable-warning=TimeoutNegativeWarning", MAIN(name), "--config", file], {}, join(work, `${name}-${tag}.log`));
  }
  for (const [name, r] of Object.entries(started)) sampler.add(name, r.child.pid);

  let firstAt = null;
  let inKafkaAt = null;
  let doneAt = null;
  let busy = null;
  let nextCountAt = 0;
  const errors = {};
  const exits = {};
  try {
    await until(`the target to hold ${fmt(ROWS)} rows`, t0 + TIMEOUT_MS, POLL_MS, async () => {
      for (const [name, r] of Object.entries(started)) {
        if (r.child.exitCode !== null || r.child.signalCode !== null) throw new Error(`the ${name} exited early (${r.child.exitCode ?? r.child.signalCode}):\n${r.output().slice(-3000)}`);
      }
      if (inKafkaAt === null) {
        try {
          const inKafka = await metricSumIfUp(ports.producer, "zeroloss_producer_snapshot_rows");
          if (inKafka !== null && inKafka >= ROWS) inKafkaAt = performance.now();
        } catch {
          // informative only: a slow /metrics does not fail the measurement
        }
      }
      const at = performance.now(); // a poll sees what was committed when it started
      if (firstAt === null && (await target.any())) firstAt = at;
      // The target cannot be complete before the producer committed every row, and a count(*)
      // of a large table is work for the target: counted then, at most a fifth of the time.
      if (inKafkaAt === null || at < nextCountAt) return false;
      const rows = await target.count();
      nextCountAt = performance.now() + 4 * (performance.now() - at);
      if (rows < ROWS) return false;
      doneAt = at;
      busy = coresBusy(m0, machineCpu());
      sampler.stop(); // CPU and memory up to here, not the services' stop
      return true;
    });
    // Errors the services recovered from (a restarted snapshot, a retried batch): the content
    // can still come out equal, so they are reported beside it.
    for (const name of ["producer", "consumer"]) errors[name] = await metricSumIfUp(ports[name], `zeroloss_${name}_errors_total`);
  } catch (err) {
    throw new Error(`${err.message}\nlogs: ${work}`);
  } finally {
    if (doneAt === null) sampler.stop();
    await target.end();
    for (const name of ["consumer", "producer"]) {
      await procs.stop(started[name]);
      const e = await started[name].exited;
      exits[name] = e.code ?? e.signal;
    }
    // After a failure, the failure is the report: a slot that will not drop is only noted.
    const dropping = dropSlotAndPublication(source.url, config.source.slot, config.source.publication);
    if (doneAt !== null) await dropping;
    else await dropping.catch((err) => console.error(`note: ${err.message}`));
  }
  try {
    const got = await expectEqual("zeroloss", targetUrl, source, async (c) => ({
      quarantined: Number((await c.query("SELECT count(*) AS n FROM zeroloss.quarantine")).rows[0].n),
    }));
    if (got.quarantined !== 0) throw new Error(`zeroloss: the target holds every row and ${got.quarantined} quarantined`);
  } finally {
    await dropDatabase(stack.target, db);
  }
  for (const [name, code] of Object.entries(exits)) {
    if (code !== 0) console.error(`note: the ${name} exited with ${code} after SIGTERM (log: ${join(work, `${name}-${tag}.log`)})`);
    if (code !== 0 || errors[name] !== 0) keepLogs = true;
  }
  for (const [name, n] of Object.entries(errors)) if (n !== 0) console.error(`note: the ${name} counted ${n ?? "?"} errors (zeroloss_${name}_errors_total; log: ${join(work, `${name}-${tag}.log`)})`);
  const ms = doneAt - t0;
  return {
    ms: Math.round(ms),
    rowsPerSec: rate(ROWS, ms),
    firstRowMs: firstAt === null ? null : Math.round(firstAt - t0),
    inKafkaMs: inKafkaAt === null ? null : Math.round(inKafkaAt - t0),
    machineCoresBusy: busy,
    processes: sampler.report(),
    pollSeconds: seconds(target.pollMs),
    errors,
    exitCodes: exits,
    contentEqual: true,
    quarantined: 0,
  };
}

// --- main ---------------------------------------------------------------------------------------

const cpuOf = (p, name) => p[name]?.cpuS ?? "?";
const memOf = (p, name) => (p[name] === undefined ? "?" : Math.round(p[name].peakMemMiB));

const summary = newSummary({ rows: ROWS, tables: TABLES, workers: WORKERS, partitions: PARTITIONS, pollMs: POLL_MS, ...(Object.keys(ZEROLOSS_CONFIG).length > 0 ? { zerolossConfig: ZEROLOSS_CONFIG } : {}) });
await runBench(
  "bench:snapshot",
  summary,
  0.3,
  async () => {
    // Before the stack starts: a config without source.snapshot.workers fails at once.
    for (const w of WORKERS) checkConfig(zerolossConfig({ sourceUrl: "postgres://check@127.0.0.1/check", targetUrl: "postgres://check@127.0.0.1/check", tables: ["t"], tag: "check", workers: w, ports: { producer: 0, consumer: 0 } }), "the benchmark's config");
    console.log(`bench:snapshot ${fmt(ROWS)} rows, tables ${TABLES.join(",")}, workers ${WORKERS.join(",")}; ${cpus().length} cores, ${summary.machine.ramGiB} GiB, node ${process.version}`);
    stack = await startBenchStack(procs, summary, log);
    for (const t of TABLES) {
      const source = await loadSource(t);
      const copy = await measureCopy(source);
      const cp = copy.processes;
      console.log(
        `T=${t}:     COPY pipe ${fmt(copy.rowsPerSec).padStart(9)} rows/s  (${(copy.ms / 1000).toFixed(2)} s; CPU s: psql ${cpuOf(cp, "psql")}, source ${cpuOf(cp, "postgres-source")}, target ${cpuOf(cp, "postgres-target")}; ` +
          `${copy.machineCoresBusy ?? "?"} of ${cpus().length} cores busy)  [target = source]`,
      );
      for (const w of WORKERS) {
        const fl = await measureFloor(source, w);
        console.log(
          `T=${t} W=${w}: floor    ${fmt(fl.rowsPerSec).padStart(9)} rows/s  (${(fl.ms / 1000).toFixed(2)} s; zeroloss's SQL at both ends, no Kafka, no Node per row; CPU s: source ${cpuOf(fl.processes, "postgres-source")}, ` +
            `target ${cpuOf(fl.processes, "postgres-target")}; ${fl.machineCoresBusy ?? "?"} of ${cpus().length} cores busy) ${((fl.rowsPerSec / copy.rowsPerSec) * 100).toFixed(1)}% of the COPY pipe`,
        );
        const z = await measureZeroloss(source, t, w);
        const ratio = z.rowsPerSec / copy.rowsPerSec;
        const p = z.processes;
        console.log(
          `T=${t} W=${w}: zeroloss ${fmt(z.rowsPerSec).padStart(9)} rows/s  (${(z.ms / 1000).toFixed(2)} s; first row ${z.firstRowMs === null ? "?" : (z.firstRowMs / 1000).toFixed(2)} s, ` +
            `in Kafka ${z.inKafkaMs === null ? "?" : (z.inKafkaMs / 1000).toFixed(2)} s; CPU s: producer ${cpuOf(p, "producer")}, consumer ${cpuOf(p, "consumer")}, ` +
            `source ${cpuOf(p, "postgres-source")}, target ${cpuOf(p, "postgres-target")}, kafka ${cpuOf(p, "kafka")}; peak MiB: producer ${memOf(p, "producer")}, consumer ${memOf(p, "consumer")}, ` +
            `source ${memOf(p, "postgres-source")}, target ${memOf(p, "postgres-target")}, kafka ${memOf(p, "kafka")}; ${z.machineCoresBusy ?? "?"} of ${cpus().length} cores busy; ` +
            `polls ${z.pollSeconds} s${z.errors.producer || z.errors.consumer ? `; ERRORS recovered from: producer ${z.errors.producer ?? "?"}, consumer ${z.errors.consumer ?? "?"}` : ""}) ratio ${(ratio * 100).toFixed(1)}%  [target = source: ${fmt(ROWS)} rows, 0 quarantined]`,
        );
        summary.pairs.push({ tables: t, rowsPerTable: source.perTable, workers: w, copy, floor: fl, floorRatio: Number((fl.rowsPerSec / copy.rowsPerSec).toFixed(3)), zeroloss: z, ratio: Number(ratio.toFixed(3)) });
      }
      await dropDatabase(stack.source, "bench_snap_src");
    }
    finished = true;
  },
  async () => {
    await procs.cleanup();
    if (!env.LOG_DIR && ((finished && !keepLogs) || readdirSync(work).length === 0)) rmSync(work, { recursive: true, force: true });
    else console.error(`logs and configs: ${work}`);
  },
  OUT,
);
