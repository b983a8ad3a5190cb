// `zeroloss demo`: the whole product in one command. Starts a local stack, creates the
// payments schema with a backlog, runs producer, consumer and counter, drives a concurrent
// workload, drains, verifies by content with --sustain, and prints the proof. Progress goes
// to stderr, the proof to stdout; exit 0 only when every claim of the proof holds.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import pg from "pg";
import { chooseMode, pollUntil, startDevStack, type DevStack } from "@zeroloss/devstack";
import { isZerolossError, ZerolossError } from "@zeroloss/errors";
import { histogramBuckets, sumOf, type Bucket, type Logger } from "@zeroloss/observability";
import { topicNames, type Summary, type VerifyReport } from "@zeroloss/wire";
import type { ConfigInput } from "@zeroloss/config";
import { configText, stackConfig } from "../dev.js";
import { writeKeyPair } from "../certificate.js";
import { cutoverCommand } from "../cutover/cutover.js";
import { readState } from "../cutover/state.js";
import { buildProof, formatProof, LATENCY_METRIC, type DemoCutover, type Encoding, type Proof } from "./proof.js";
import { BACKLOG_DEFAULT, DEMO_TABLES, createSchema, loadBacklog } from "./schema.js";
import { ProgressLines } from "../progress-lines.js";
import { runVerifierJson } from "../verifier-run.js";
import { choosePorts, Pipeline, serviceEnv, type PipelineService } from "./services.js";
import { runWorkload, type WorkloadStats } from "./workload.js";

export interface DemoOptions {
  /** Seconds of workload. */
  readonly duration: number;
  /** Source transactions per second. */
  readonly rate: number;
  /** Seconds of zero drift the verifier must sustain. */
  readonly sustain: number;
  readonly keep: boolean;
  readonly json: boolean;
  /** Where the config, the service logs and proof.json are written. */
  readonly dir: string;
  /** kafka.encoding: avro also starts the schema registry. */
  readonly encoding: "json" | "avro";
  /** The secure stack (`zeroloss dev up --secure`): TLS-only PostgreSQL, Kafka over SASL_SSL, passwords in files. */
  readonly secure?: boolean;
  readonly log: Logger;
}

const DRAIN_TIMEOUT_MS = 120_000;
const SLOT = "zeroloss";
const FILES = ["zeroloss.yaml", "proof.json", "verifier.log", "producer.log", "consumer.log", "counter.log"];
/** Folders of the demo's cutover: its state, certificate and verifier report; the key pair it signs with. */
const FOLDERS = ["cutover", "keys"];

const n = (v: number) => v.toLocaleString("en-US");

function demoConfig(stack: DevStack, ports: Record<PipelineService, number>, encoding: DemoOptions["encoding"]): ConfigInput {
  const base = stackConfig(stack, 1, encoding);
  const http = (port: number) => ({ port, host: "127.0.0.1" });
  return {
    ...base,
    source: { ...base.source, slot: SLOT },
    producer: { http: http(ports.producer) },
    consumer: { group: "zeroloss", http: http(ports.consumer) },
    // Windows of 1,000 offsets, so a short demo closes many; the grace period is longer than any drain the demo waits for.
    tallies: { windowSize: 1000 },
    counter: { ...base.counter, http: http(ports.counter), graceSeconds: 180, refreshMs: 1000 },
    // The pipeline is drained before the verifier runs: a difference that stays 20 s is drift.
    verify: { settleSeconds: 20, quietMs: 1000 },
    log: { level: "info" },
  };
}

interface Flow {
  producerEvents: number;
  /** Rows in them (a bulk snapshot record holds many). */
  producerRows: number;
  /** Snapshot rows the producer committed to Kafka, over every table. */
  snapshotRows: number;
  summary: Summary;
}

/** The counter's ledger agrees with itself and with what the producer says it committed. */
function balanced(f: Flow, atLeast: number): boolean {
  const t = f.summary.totals;
  const tx = f.summary.transactions;
  return (
    f.producerEvents >= atLeast &&
    t.emitted === f.producerEvents &&
    t.transferred === t.emitted &&
    t.applied + t.duplicate + t.quarantined === t.emitted &&
    t.rows.emitted === f.producerRows &&
    t.rows.transferred === t.rows.emitted &&
    t.rows.applied + t.rows.duplicate + t.rows.quarantined === t.rows.emitted &&
    f.summary.windows.behind === 0 &&
    tx.pending === 0 &&
    tx.complete === 0
  );
}

async function flow(p: Pipeline): Promise<Flow> {
  const [producer, summary] = await Promise.all([p.metrics("producer"), p.summary()]);
  return {
    producerEvents: sumOf(producer, "zeroloss_producer_events_total"),
    producerRows: sumOf(producer, "zeroloss_producer_rows_total"),
    snapshotRows: sumOf(producer, "zeroloss_producer_snapshot_rows"),
    summary,
  };
}

function flowLine(f: Flow): string {
  const r = f.summary.totals.rows;
  return `rows emitted ${n(f.producerRows)} · in Kafka ${n(r.transferred)} · applied ${n(r.applied + r.duplicate)} · quarantined ${n(r.quarantined)}`;
}

/** The registry's subjects and versions after the run, and the subject each demo table's records belong under. */
async function encodingOf(kind: DemoOptions["encoding"], registry: string | null): Promise<Encoding> {
  const expected = Object.fromEntries(DEMO_TABLES.map((t) => [t, `${topicNames("zeroloss").data(...(t.split(".") as [string, string]))}-value`]));
  if (kind === "json" || registry === null) return { kind, registry, subjects: {}, expected };
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${registry}${path}`);
    if (!res.ok) throw new ZerolossError("DEMO_REGISTRY", `the schema registry answered ${res.status} to GET ${path}: ${await res.text()}`);
    return (await res.json()) as T;
  };
  const subjects: Record<string, number[]> = {};
  for (const s of await get<string[]>("/subjects")) subjects[s] = await get<number[]>(`/subjects/${encodeURIComponent(s)}/versions`);
  return { kind, registry, subjects, expected };
}

export async function demoCommand(o: DemoOptions): Promise<number> {
  if ((await chooseMode(process.env)) === "external") {
    throw new ZerolossError(
      "DEMO_EXTERNAL_STACK",
      "zeroloss demo starts its own local stack and fills its databases; ZEROLOSS_SOURCE_URL, ZEROLOSS_TARGET_URL and ZEROLOSS_KAFKA_BROKERS point at existing services, which the demo will not write into: unset them",
    );
  }
  const progress = new ProgressLines();
  const dir = resolve(o.dir);
  await mkdir(dir, { recursive: true });
  await Promise.all([...FILES, ...FOLDERS].map((f) => rm(join(dir, f), { force: true, recursive: true })));

  let interrupted: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted !== null) {
      // A second Ctrl-C: leave now; every process of the stack and the pipeline dies with us (parent-death signal).
      progress.line(`${signal} again: exiting at once`);
      process.exit(130);
    }
    progress.line(`${signal}: stopping the demo and everything it started`);
    interrupted = signal;
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  let stack: DevStack | undefined;
  let pipeline: Pipeline | undefined;
  let stackFailure: string | null = null;
  const abortIf = () => {
    if (interrupted !== null) throw new ZerolossError("DEMO_INTERRUPTED", `the demo was interrupted (${interrupted})`);
    if (stackFailure !== null) throw new ZerolossError("DEMO_STACK_FAILED", `a service of the local stack stopped on its own:\n${stackFailure}`);
    pipeline?.assertRunning();
  };
  try {
    progress.line(`zeroloss demo: a payments database streamed PostgreSQL → Kafka → PostgreSQL, then proven (workload ${o.duration} s at ${o.rate} transactions/s)`);
    const avro = o.encoding === "avro";
    const secure = o.secure === true;
    progress.line(
      `starting the local stack: source and target PostgreSQL, Apache Kafka (1 broker)${avro ? ", a schema registry (Avro)" : ""}` +
        (secure ? "; secure: PostgreSQL over TLS only with client certificates, Kafka over SASL_SSL (SCRAM-SHA-512), passwords in files" : ""),
    );
    stack = await startDevStack({ brokers: 1, detached: false, registry: avro, secure, log: o.log.child({ part: "stack" }, { level: "warn" }) });
    void stack.unexpectedExit.then((report) => (stackFailure = report));
    progress.line(`stack ready (${stack.mode}${stack.instanceDir === null ? "" : `, files in ${stack.instanceDir}`})`);
    abortIf();

    const source = new pg.Client({ connectionString: stack.source, application_name: "zeroloss demo" });
    source.on("error", (err: Error) => (stackFailure ??= `the demo's connection to the source failed: ${err.message}`));
    await source.connect();
    try {
      // The schema on both sides, as a migration team prepares its target: the foreign keys
      // and identity sequences the cutover validates and sets are the target's own.
      await createSchema(source);
      await withClient(stack.target, createSchema);
      const loadStarted = Date.now();
      const backlog = await loadBacklog(source, BACKLOG_DEFAULT);
      const backlogRows = backlog.accounts + backlog.payments + backlog.ledgerEntries;
      progress.line(
        `source filled in ${((Date.now() - loadStarted) / 1000).toFixed(1)} s: ${n(backlog.accounts)} accounts, ${n(backlog.payments)} payments ` +
          `(${n(backlog.toasted)} with a remittance stored out of line by TOAST), ${n(backlog.ledgerEntries)} ledger entries`,
      );

      const ports = await choosePorts();
      const configFile = join(dir, "zeroloss.yaml");
      await writeFile(configFile, configText(demoConfig(stack, ports, o.encoding), "`zeroloss demo`"));
      abortIf();
      pipeline = await Pipeline.start({ configFile, dir, ports, log: o.log.child({ part: "services" }, { level: "warn" }) });
      const p = pipeline;
      const snapshotStarted = Date.now();
      await pollUntil(async () => ((await p.serving()) ? true : undefined), { timeoutMs: 60_000, what: "producer, consumer and counter to serve HTTP", abortIf });
      progress.line(`producer, consumer and counter running; the counter's dashboard: ${p.url("counter")}  (logs in ${dir})`);

      // The backlog: the producer snapshots it, the consumer applies it.
      let lastLine = Date.now();
      await pollUntil(
        async () => {
          const f = await flow(p);
          // Rows travel many to a record (bulk snapshot records); the ledger counts records.
          if (f.snapshotRows >= backlogRows && balanced(f, 0)) return true;
          if (Date.now() - lastLine >= 3000) {
            lastLine = Date.now();
            progress.line(`  snapshot of ${n(backlogRows)} rows: ${n(f.snapshotRows)} in Kafka; records ${flowLine(f)}`);
          }
          return undefined;
        },
        { timeoutMs: DRAIN_TIMEOUT_MS, intervalMs: 250, what: "the backlog to be snapshotted and applied", abortIf },
      );
      const backlogSeconds = (Date.now() - snapshotStarted) / 1000;
      progress.line(`backlog of ${n(backlogRows)} rows snapshotted, checksummed, validated and applied in ${backlogSeconds.toFixed(1)} s`);

      // The workload, with progress from the pipeline while it runs.
      const latencyBefore: Bucket[] = histogramBuckets(await p.metrics("consumer"), LATENCY_METRIC);
      const emittedBefore = (await flow(p)).producerEvents;
      progress.line(`workload: payments, settlements, refunds (deletes) and profile edits for ${o.duration} s on 4 connections`);
      let workloadDone = false;
      const workload = runWorkload({ url: stack.source, accounts: backlog.accounts, rate: o.rate, seconds: o.duration, stopped: () => interrupted !== null || stackFailure !== null }).finally(
        () => (workloadDone = true),
      );
      const workloadStarted = Date.now();
      lastLine = Date.now();
      await pollUntil(
        async () => {
          if (workloadDone) return true;
          if (Date.now() - lastLine >= 5000) {
            lastLine = Date.now();
            progress.line(`  ${Math.round((Date.now() - workloadStarted) / 1000)} of ${o.duration} s: ${flowLine(await flow(p))}`);
          }
          return undefined;
        },
        { timeoutMs: o.duration * 1000 + 60_000, intervalMs: 250, what: "the workload to finish", abortIf },
      );
      const stats: WorkloadStats = await workload;
      abortIf();

      // Drain: the producer past the source's last position, then every count agreeing.
      const drainStarted = Date.now();
      const endLsn = (await source.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn")).rows[0]?.lsn ?? "0/0";
      progress.line(`workload done: ${n(stats.transactions)} transactions; draining to source position ${endLsn}`);
      let drained = { ok: true, detail: "" };
      try {
        await pollUntil(
          async () => {
            const slot = await source.query<{ behind: boolean }>("SELECT confirmed_flush_lsn < $1::pg_lsn AS behind FROM pg_replication_slots WHERE slot_name = $2", [endLsn, SLOT]);
            if (slot.rows[0]?.behind !== false) return undefined;
            return balanced(await flow(p), emittedBefore) ? true : undefined;
          },
          { timeoutMs: DRAIN_TIMEOUT_MS, intervalMs: 250, what: "the pipeline to drain", abortIf },
        );
      } catch (err) {
        if (!(isZerolossError(err) && err.code === "TIMEOUT")) throw err; // interrupted, or a service stopped
        drained = { ok: false, detail: `not drained after ${DRAIN_TIMEOUT_MS / 1000} s: ${(err as Error).message}` };
      }
      const drainSeconds = (Date.now() - drainStarted) / 1000;
      const afterDrain = await flow(p);
      progress.line(drained.ok ? `drained in ${drainSeconds.toFixed(1)} s: ${flowLine(afterDrain)}` : `NOT drained: ${flowLine(afterDrain)}`);

      let verify: { code: number; report: VerifyReport | null } | null = null;
      if (drained.ok) {
        progress.line(`verifying source against target by content, until ${o.sustain} s of zero drift are sustained`);
        verify = await runVerifierJson({ configFile, sustainSeconds: o.sustain, logFile: join(dir, "verifier.log"), env: serviceEnv(), outputError: "DEMO_VERIFIER_OUTPUT" });
        abortIf();
        progress.line(`verifier: ${verify.report?.result ?? `exit ${verify.code}`}`);
      }

      let cutover: DemoCutover | null = null;
      if (drained.ok && verify?.report?.result === "equal") {
        progress.line("cutover: fence (the workload has stopped), drain, verify at the cut, sequences, foreign keys, the signed certificate");
        cutover = await runDemoCutover(dir, configFile, o.log, progress);
        abortIf();
        progress.line(cutover.proven ? `cutover proven; certificate ${cutover.certificate ?? "-"}` : `cutover NOT proven: ${cutover.problems.join("; ")}`);
      }

      const changes = afterDrain.producerEvents - emittedBefore;
      const proof: Proof = buildProof({
        tables: DEMO_TABLES,
        producer: await p.metrics("producer"),
        consumer: await p.metrics("consumer"),
        latencyBefore,
        summary: (await flow(p)).summary,
        verify,
        drained,
        backlog: { ...backlog, seconds: backlogSeconds, rowsPerSecond: backlogRows / backlogSeconds },
        workload: { ...stats, changes, changesPerSecond: changes / stats.seconds, drainSeconds },
        durationSeconds: progress.elapsed(),
        encoding: await encodingOf(o.encoding, stack.registry ?? null),
        cutover,
        dashboard: p.url("counter"),
        files: dir,
      });
      await writeFile(join(dir, "proof.json"), `${JSON.stringify(proof, null, 2)}\n`);
      process.stdout.write(o.json ? `${JSON.stringify(proof)}\n` : `\n${formatProof(proof)}`);

      if (o.keep) await keepRunning(stack, p, configFile, progress, () => interrupted !== null || stackFailure !== null);
      return proof.proven ? 0 : 1;
    } finally {
      await source.end();
    }
  } finally {
    if (pipeline !== undefined) await pipeline.stop();
    if (stack !== undefined) await stack.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    progress.line("stopped: the stack and the services are gone" + (o.keep ? "" : "; run with --keep to explore them"));
  }
}

async function withClient(url: string, fn: (c: pg.Client) => Promise<void>): Promise<void> {
  const c = new pg.Client({ connectionString: url, application_name: "zeroloss demo" });
  await c.connect();
  try {
    await fn(c);
  } finally {
    await c.end();
  }
}

/** `zeroloss cutover --fence wait` on the demo's stack, signed with a key pair made for it in <dir>/keys. */
async function runDemoCutover(dir: string, configFile: string, log: Logger, progress: ProgressLines): Promise<DemoCutover> {
  const keys = join(dir, "keys");
  await mkdir(keys, { recursive: true, mode: 0o700 });
  writeKeyPair(join(keys, "private.pem"), join(keys, "public.pem"));
  const cutoverDir = join(dir, "cutover");
  await cutoverCommand({
    config: configFile,
    fence: "wait",
    appRole: [],
    rehearse: false,
    privateKey: join(keys, "private.pem"),
    dir: cutoverDir,
    quietSeconds: 2,
    fenceTimeout: 60,
    drainTimeout: DRAIN_TIMEOUT_MS / 1000,
    abort: false,
    json: false,
    print: false,
    progress,
    log,
  });
  const finished = readState(cutoverDir)?.finished;
  return {
    proven: finished?.proven ?? false,
    problems: finished?.problems ?? ["the cutover stopped before it finished (see its lines above)"],
    fenceLsn: readState(cutoverDir)?.fencePoint?.lsn ?? null,
    certificate: finished?.certificate ?? null,
    html: finished?.html ?? null,
    publicKey: join(keys, "public.pem"),
  };
}

/** --keep: leave everything running for exploration until Ctrl-C (or a service stops on its own). */
async function keepRunning(stack: DevStack, p: Pipeline, configFile: string, progress: ProgressLines, stopped: () => boolean): Promise<void> {
  const lines = [
    "",
    "Still running (--keep). Explore, then press Ctrl-C to stop everything:",
    `  dashboard   ${p.url("counter")}`,
    `  metrics     ${p.url("producer", "/metrics")}  ${p.url("consumer", "/metrics")}  ${p.url("counter", "/metrics")}`,
    `  source      psql '${stack.source}'`,
    `  target      psql '${stack.target}'`,
    `  kafka       ${stack.kafka.join(",")}`,
    `  commands    npx zeroloss status --config ${configFile}`,
    `              npx zeroloss verify --config ${configFile}`,
    "",
  ];
  process.stderr.write(`${lines.join("\n")}\n`);
  await pollUntil(async () => (stopped() ? true : undefined), { timeoutMs: Number.MAX_SAFE_INTEGER, intervalMs: 200, what: "Ctrl-C", abortIf: () => p.assertRunning() });
  progress.line("stopping the stack and the services");
}
