// The whole pipeline against the shared stack: a fresh source database (the producer
// fixture), a fresh target database on the target server, and the real producer and
// consumer processes. Compares source and target by content: every row's canonical
// checksum, computed by each database over its own stored values.
import { resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { writeFileSync, readFileSync } from "node:fs";
import { parse, stringify } from "yaml";
import pg from "pg";
import { checksumSql, textOutputSql } from "@zeroloss/checksum";
import { createTestDatabase, freePort, pollUntil, type TestDatabase } from "@zeroloss/devstack";
import { connect, quoteIdent } from "@zeroloss/pg";
import { merge, producerFixture, startService, type ProducerFixture, type RunningProducer } from "../producer/harness.js";

export const CONSUMER_MAIN = resolve(import.meta.dirname, "../../services/consumer/dist/main.js");

export interface PipelineStack {
  readonly source: string;
  readonly target: string;
  readonly kafka: readonly string[];
}

export interface PipelineFixture extends ProducerFixture {
  readonly targetDb: TestDatabase;
  /** A pinned connection to the target (values as PostgreSQL's text output). */
  readonly target: pg.Client;
  readonly group: string;
  startConsumer(env?: Record<string, string>): Promise<RunningProducer>;
}

export async function pipelineFixture(stack: PipelineStack, name: string, config: Record<string, unknown> = {}): Promise<PipelineFixture> {
  const targetDb = await createTestDatabase(stack.target, `${name}_t`);
  const group = `zl_${name}_${randomBytes(3).toString("hex")}`;
  const f = await producerFixture(
    stack,
    name,
    merge(
      {
        target: { url: targetDb.url },
        consumer: { group, topicPollMs: 300, retryInitialMs: 50, retryMaxMs: 1_000, sessionTimeoutMs: 10_000, http: { port: 0, host: "127.0.0.1" } },
      },
      config,
    ),
  );
  const target = await connect(targetDb.url, { applicationName: "test-target" });
  const consumers: RunningProducer[] = [];
  return {
    ...f,
    targetDb,
    target,
    group,
    async startConsumer(env = {}) {
      const c = startService(CONSUMER_MAIN, "ZEROLOSS_CONSUMER_HTTP_PORT", f.configFile, [], { ZEROLOSS_CONSUMER_HTTP_PORT: String(await freePort()), ...env });
      consumers.push(c);
      return c;
    },
    async close() {
      for (const c of consumers) await c.stop("SIGKILL");
      await target.end();
      await f.close();
      await targetDb.drop();
    },
  };
}

/** Rewrites keys of the fixture's config file (the services read it at start). */
export function updateConfig(f: ProducerFixture, change: Record<string, unknown>): void {
  const current = parse(readFileSync(f.configFile, "utf8")) as Record<string, unknown>;
  writeFileSync(f.configFile, stringify(merge(current, change)));
}

/** key → canonical row checksum of every row of a table, computed by that database. */
export async function tableDigest(client: pg.Client, table: string, columns: readonly string[], key: readonly string[]): Promise<Map<string, string>> {
  const sum = checksumSql(columns.map((c) => ({ name: c, textSql: textOutputSql(`t.${quoteIdent(c)}`) })));
  const keyText = `json_build_array(${key.map((k) => `t.${quoteIdent(k)}::text`).join(", ")})::text`;
  const res = await client.query<{ k: string; s: string }>(`SELECT ${keyText} AS k, ${sum} AS s FROM ${table} t`);
  return new Map(res.rows.map((r) => [r.k, r.s]));
}

/** Differences between two digests, for assertion messages (at most 10). */
export function digestDiff(a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of a) if (b.get(k) !== v) out.push(`${k}: source ${v.slice(0, 8)} target ${b.get(k)?.slice(0, 8) ?? "missing"}`);
  for (const k of b.keys()) if (!a.has(k)) out.push(`${k}: only in target`);
  return out.slice(0, 10);
}

export interface TableSpec {
  readonly name: string;
  readonly columns: readonly string[];
  readonly key: readonly string[];
}

/** For rows whose checksums differ: the columns whose text differs, source against target, so a failure names them. */
async function columnDiffs(f: PipelineFixture, source: pg.Client, t: TableSpec, keys: readonly string[]): Promise<string[]> {
  const keyText = `json_build_array(${t.key.map((k) => `t.${quoteIdent(k)}::text`).join(", ")})::text`;
  const cols = t.columns.map((c) => `${textOutputSql(`t.${quoteIdent(c)}`)} AS ${quoteIdent(c)}`).join(", ");
  const q = `SELECT ${keyText} AS zl_key, ${cols} FROM ${t.name} t WHERE ${keyText} = ANY($1)`;
  const [a, b] = [await source.query<Record<string, string | null>>(q, [keys]), await f.target.query<Record<string, string | null>>(q, [keys])];
  const out: string[] = [];
  for (const ra of a.rows) {
    const rb = b.rows.find((r) => r["zl_key"] === ra["zl_key"]);
    if (rb === undefined) continue;
    for (const c of t.columns) {
      if (ra[c] !== rb[c]) out.push(`${ra["zl_key"]} ${c}: source ${JSON.stringify(ra[c])?.slice(0, 120)} target ${JSON.stringify(rb[c])?.slice(0, 120)}`);
    }
  }
  return out;
}

/** Polls until the target holds exactly the source's rows of every table, checksum for checksum. */
export async function waitForEqual(f: PipelineFixture, source: pg.Client, tables: readonly TableSpec[], running: RunningProducer[] = [], timeoutMs = 60_000): Promise<void> {
  let last: string[] = [];
  await pollUntil(
    async () => {
      last = [];
      for (const t of tables) {
        const [a, b] = [await tableDigest(source, t.name, t.columns, t.key), await tableDigest(f.target, t.name, t.columns, t.key)];
        const d = digestDiff(a, b);
        if (d.length > 0) {
          const differing = [...a].filter(([k, v]) => b.has(k) && b.get(k) !== v).map(([k]) => k).slice(0, 3);
          const cols = differing.length === 0 ? [] : await columnDiffs(f, source, t, differing);
          last.push(`${t.name} (${a.size} source rows, ${b.size} target rows): ${d.join("; ")}${cols.length === 0 ? "" : `; differing columns: ${cols.join("; ")}`}`);
        }
      }
      return last.length === 0 ? true : undefined;
    },
    {
      timeoutMs,
      intervalMs: 500,
      what: "the target to equal the source",
      abortIf: () => {
        for (const p of running) if (p.proc.exitCode !== null) throw new Error(`a service exited with ${p.proc.exitCode}:\n${p.output().slice(-4000)}`);
      },
    },
  ).catch((err: unknown) => {
    const problems = running.flatMap((p) => p.output().split("\n").filter((l) => /"level":(40|50|60)/.test(l))).slice(-10);
    throw new Error(`${(err as Error).message}\nstill different: ${last.join("\n")}\nwarnings and errors of the services:\n${problems.join("\n")}`);
  });
}

/** A pinned connection to the fixture's source database. */
export function sourceClient(f: ProducerFixture): Promise<pg.Client> {
  return connect(f.db.url, { applicationName: "test-source" });
}

/** A partition the consumer stopped, as its /healthz lists it. */
export interface StoppedPartition {
  readonly topic: string;
  readonly partition: number;
  readonly code: string;
  readonly message: string;
}

/** The consumer's /healthz (null while it is not serving) and the partitions it lists as stopped. */
export async function stoppedPartitions(consumer: RunningProducer): Promise<{ health: Awaited<ReturnType<RunningProducer["health"]>>; stopped: StoppedPartition[] }> {
  const health = await consumer.health();
  const stopped = (health?.body["details"] as { stoppedPartitions?: StoppedPartition[] } | undefined)?.stoppedPartitions ?? [];
  return { health, stopped };
}

/** Polls /healthz until the consumer lists at least one stopped partition; returns them. */
export function waitForStopped(consumer: RunningProducer, what: string, timeoutMs = 60_000): Promise<StoppedPartition[]> {
  return pollUntil(
    async () => {
      const s = (await stoppedPartitions(consumer)).stopped;
      return s.length > 0 ? s : undefined;
    },
    { timeoutMs, what },
  );
}
