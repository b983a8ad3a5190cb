// Runs the real producer process against the shared stack, one fresh source database,
// slot and topic prefix per test file, and reads back what Kafka committed.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import pg from "pg";
import { createTestDatabase, freePort, pollUntil, type TestDatabase } from "@zeroloss/devstack";
import { createKafka, readToEnd } from "@zeroloss/kafka";
import { AvroRegistry, EnvelopeReader, registryAt } from "@zeroloss/avro";
import { decodeCheckpoint, decodeManifest, decodeTally, parseBulkRows, topicNames, type Checkpoint, type Envelope, type Manifest, type Tally } from "@zeroloss/wire";
import { parseMetrics, silentLogger, sumOf } from "@zeroloss/observability";
import { dropSlot, slotStatus } from "@zeroloss/pg";
import type { Kafka } from "kafkajs";

export const PRODUCER_MAIN = resolve(import.meta.dirname, "../../services/producer/dist/main.js");

export interface Stack {
  readonly source: string;
  readonly kafka: readonly string[];
}

export interface ProducerFixture {
  readonly db: TestDatabase;
  readonly sql: pg.Client;
  readonly prefix: string;
  readonly slot: string;
  readonly kafka: Kafka;
  readonly configFile: string;
  start(extraArgs?: string[], env?: Record<string, string>): Promise<RunningProducer>;
  /** The table's committed records, a bulk snapshot record as the rows it carries (rowsOfBulk). */
  records(table: string): Promise<Array<{ envelope: Envelope; key: string | null; partition: number; offset: number }>>;
  /** The table's committed records as they are in Kafka. */
  recordsRaw(table: string): Promise<Array<{ envelope: Envelope; key: string | null; partition: number; offset: number }>>;
  manifests(): Promise<Manifest[]>;
  tallies(): Promise<Tally[]>;
  checkpoints(): Promise<Checkpoint[]>;
  confirmedFlush(): Promise<string | null>;
  close(): Promise<void>;
}

export interface RunningProducer {
  readonly proc: ChildProcess;
  /** Its HTTP port (/metrics, /healthz), or null when the test gave it none. */
  readonly port: number | null;
  /** Sum of a metric's samples (those with all of `labels`) on the service's /metrics, or null when it is not serving yet. */
  metric(name: string, labels?: Record<string, string>): Promise<number | null>;
  /** The service's /metrics page as Prometheus scrapes it, or null when it is not serving yet. */
  scrape(): Promise<string | null>;
  health(): Promise<{ status: number; body: Record<string, unknown> } | null>;
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** The exit code, or a failure naming the producer's output if it does not exit within `ms`. */
  exitWithin(ms: number): Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function producerFixture(stack: Stack, name: string, config: Record<string, unknown> = {}): Promise<ProducerFixture> {
  const db = await createTestDatabase(stack.source, name);
  const sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  const suffix = db.name.slice(-8).replace(/[^a-z0-9_]/g, "_");
  const prefix = `zl_${name}_${suffix}`;
  const slot = `zl_${name}_${suffix}`.toLowerCase();
  const dir = mkdtempSync(join(tmpdir(), "zeroloss-producer-"));
  const configFile = join(dir, "zeroloss.yaml");
  const base = {
    source: { url: db.url, slot, publication: `zl_${name}`, heartbeatSeconds: 1 },
    target: { url: db.url },
    kafka: { brokers: [...stack.kafka], topicPrefix: prefix, partitions: 3 },
    producer: { http: { port: 0, host: "127.0.0.1" } },
    log: { level: process.env["ZEROLOSS_TEST_LOG_LEVEL"] ?? "warn" },
  };
  const merged = merge(base, config);
  writeFileSync(configFile, stringify(merged));
  // Records in either encoding: Avro ones through the configured registry.
  const registryUrl = (merged["kafka"] as { registry?: { url?: string } }).registry?.url;
  const envelopes = new EnvelopeReader(registryUrl === undefined ? null : new AvroRegistry(registryAt(registryUrl)));
  const kafka = createKafka({ connection: { brokers: stack.kafka }, clientId: `test-${name}`, log: silentLogger() });
  const topics = topicNames(prefix);
  const read = async (topic: string) => {
    const out: Array<{ key: Buffer | null; value: Buffer | null; partition: number; offset: number }> = [];
    await readToEnd(kafka, topic, (r) => out.push({ key: r.key, value: r.value, partition: r.partition, offset: Number(r.offset) }));
    return out;
  };
  const recordsRaw = async (table: string) => {
    const [schema, t] = table.split(".") as [string, string];
    const raw = await read(topics.data(schema, t));
    await envelopes.load(raw.map((r) => r.value));
    return raw.map((r) => ({ envelope: envelopes.decode(r.value), key: r.key?.toString() ?? null, partition: r.partition, offset: r.offset }));
  };
  const running: RunningProducer[] = [];
  return {
    db,
    sql,
    prefix,
    slot,
    kafka,
    configFile,
    async start(extraArgs = [], env = {}) {
      const p = startProducer(configFile, extraArgs, { ZEROLOSS_PRODUCER_HTTP_PORT: String(await freePort()), ...env });
      running.push(p);
      return p;
    },
    recordsRaw,
    async records(table) {
      return (await recordsRaw(table)).flatMap((r) => (r.envelope.rows === undefined ? [r] : rowsOfBulk(r)));
    },
    async manifests() {
      return (await read(topics.manifests)).map((r) => decodeManifest(r.value));
    },
    async tallies() {
      return (await read(topics.tallies)).map((r) => decodeTally(r.value));
    },
    async checkpoints() {
      return (await read(topics.checkpoints)).map((r) => decodeCheckpoint(r.value));
    },
    async confirmedFlush() {
      return (await slotStatus(sql, slot)).confirmedFlushLsn;
    },
    async close() {
      for (const p of running) await p.stop("SIGKILL");
      await sql.end();
      // A fresh connection: the pinned one may have died with the server in an outage test.
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      try {
        await pollUntil(async () => ((await slotStatus(admin, slot)).active ? undefined : true), { timeoutMs: 30_000, what: `slot ${slot} to be released` });
        await dropSlot(admin, slot);
      } finally {
        await admin.end();
      }
      await db.drop();
    },
  };
}

export function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = typeof v === "object" && v !== null && !Array.isArray(v) && typeof cur === "object" && cur !== null ? merge(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

export function startProducer(configFile: string, extraArgs: string[] = [], env: Record<string, string> = {}): RunningProducer {
  return startService(PRODUCER_MAIN, "ZEROLOSS_PRODUCER_HTTP_PORT", configFile, extraArgs, env);
}

/** Runs a service's built main.js as a child process; `portVariable` names the env variable of its HTTP port. */
export function startService(main: string, portVariable: string, configFile: string, extraArgs: string[] = [], env: Record<string, string> = {}): RunningProducer {
  const proc = spawn(process.execPath, [main, "--config", configFile, ...extraArgs], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolveExit) => proc.once("exit", (code) => resolveExit(code)));
  const port = env[portVariable];
  const get = async (path: string) => {
    if (port === undefined) return null;
    try {
      return await fetch(`http://127.0.0.1:${port}${path}`);
    } catch {
      return null; // not listening yet, or already gone
    }
  };
  const scrape = async () => {
    const res = await get("/metrics");
    return res === null ? null : res.text();
  };
  return {
    proc,
    port: port === undefined ? null : Number(port),
    scrape,
    async metric(name, labels = {}) {
      const text = await scrape();
      return text === null ? null : sumOf(parseMetrics(text), name, labels);
    },
    async health() {
      const res = await get("/healthz");
      return res === null ? null : { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    output: () => out,
    exited,
    exitWithin: (ms) =>
      pollUntil(async () => (proc.exitCode !== null || proc.signalCode !== null ? { code: proc.exitCode } : undefined), {
        timeoutMs: ms,
        intervalMs: 50,
        what: `${main} (pid ${proc.pid}) to exit`,
      }).then(
        (r) => r.code,
        (err: unknown) => {
          throw new Error(`${(err as Error).message}; its output:\n${out.slice(-4000)}`);
        },
      ),
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return this.exitWithin(30_000);
    },
  };
}

/** Waits until `count` data records of `table` are committed in Kafka. */
export async function waitForRecords(f: ProducerFixture, table: string, count: number, producer?: RunningProducer, timeoutMs = 90_000) {
  return pollUntil(
    async () => {
      const recs = await f.records(table);
      return recs.length >= count ? recs : undefined;
    },
    {
      timeoutMs,
      intervalMs: 500,
      what: `${count} committed records of ${table}`,
      abortIf: () => {
        if (producer !== undefined && producer.proc.exitCode !== null) throw new Error(`producer exited with ${producer.proc.exitCode}:\n${producer.output()}`);
      },
    },
  );
}

/**
 * A bulk snapshot record as the rows it carries, each as the single `r` record it stands for
 * (its key, values and checksum; the record's partition and offset): tests check rows.
 */
export function rowsOfBulk<R extends { envelope: Envelope; key: string | null; partition: number; offset: number }>(r: R): R[] {
  const { rows: _rows, partition: _partition, ...env } = r.envelope;
  return parseBulkRows(r.envelope).map((row) => ({
    ...r,
    key: row.key,
    envelope: { ...env, after: Object.fromEntries(env.columns.map((c, i) => [c.name, row.values[i] ?? null])), checksum: row.checksum },
  }));
}
