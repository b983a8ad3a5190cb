// The whole pipeline plus the counter: the consumer fixture (source, producer, Kafka,
// consumer, target) with a ledger database of its own on the target server, the counter as
// a real process, and its HTTP API read the way an operator's tools read it.
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { createTestDatabase, freePort, pollUntil, type TestDatabase } from "@zeroloss/devstack";
import type { Summary } from "@zeroloss/wire";
import { pipelineFixture, type PipelineFixture, type PipelineStack } from "../consumer/harness.js";
import { merge, startService, type RunningProducer } from "../producer/harness.js";

export const COUNTER_MAIN = resolve(import.meta.dirname, "../../services/counter/dist/main.js");
export const CLI = resolve(import.meta.dirname, "../../packages/cli/bin/zeroloss.js");

export interface RunningCounter extends RunningProducer {
  readonly port: number;
  /** GET a path of the counter's HTTP API as JSON (null while it is not serving). */
  api<T = Record<string, unknown>>(path: string): Promise<T | null>;
}

export interface CounterFixture extends PipelineFixture {
  readonly ledger: TestDatabase;
  /** counter.group: every counter this fixture starts joins it. */
  readonly counterGroup: string;
  startCounter(env?: Record<string, string>): Promise<RunningCounter>;
  /** `zeroloss status` against a counter: its exit code and output. */
  status(counter: RunningCounter, json?: boolean): Promise<{ code: number; stdout: string; stderr: string }>;
}

/** The body of /api/summary. */
export type SummaryBody = Summary;

export async function counterFixture(stack: PipelineStack, name: string, config: Record<string, unknown> = {}): Promise<CounterFixture> {
  const ledger = await createTestDatabase(stack.target, `${name}_l`);
  const counterGroup = `zl_${name}_counter_${ledger.name.slice(-8)}`;
  const f = await pipelineFixture(
    stack,
    name,
    merge({ counter: { url: ledger.url, group: counterGroup, refreshMs: 300, topicPollMs: 300, sessionTimeoutMs: 6_000, http: { port: 0, host: "127.0.0.1" } } }, config),
  );
  const counters: RunningCounter[] = [];
  return {
    ...f,
    ledger,
    counterGroup,
    async startCounter(env = {}) {
      const c = await startCounter(f.configFile, env);
      counters.push(c);
      return c;
    },
    async status(counter, json = false) {
      return new Promise((resolveRun) => {
        execFile(
          process.execPath,
          [CLI, "status", "--url", `http://127.0.0.1:${counter.port}`, ...(json ? ["--json"] : [])],
          { env: { PATH: process.env["PATH"] ?? "" } },
          (err, stdout, stderr) => resolveRun({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stdout, stderr }),
        );
      });
    },
    async close() {
      for (const c of counters) await c.stop("SIGKILL");
      await f.close();
      await ledger.drop();
    },
  };
}

/** The counter as a real process on a config file, its HTTP port given through the environment. */
export async function startCounter(configFile: string, env: Record<string, string> = {}): Promise<RunningCounter> {
  const port = await freePort();
  const svc = startService(COUNTER_MAIN, "ZEROLOSS_COUNTER_HTTP_PORT", configFile, [], { ZEROLOSS_COUNTER_HTTP_PORT: String(port), ...env });
  return {
    ...svc,
    port,
    async api<T>(path: string): Promise<T | null> {
      try {
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}: ${await res.text()}`);
        return (await res.json()) as T;
      } catch (err) {
        if ((err as Error).message.startsWith("GET ")) throw err;
        return null; // not listening yet
      }
    },
  };
}

/** Polls /api/summary until `done` holds; the last summary is in the failure message. */
export async function waitForSummary(counter: RunningCounter, what: string, done: (s: SummaryBody) => boolean, timeoutMs = 60_000): Promise<SummaryBody> {
  let last: SummaryBody | null = null;
  return pollUntil(
    async () => {
      last = await counter.api<SummaryBody>("/api/summary");
      return last !== null && done(last) ? last : undefined;
    },
    {
      timeoutMs,
      intervalMs: 300,
      what,
      abortIf: () => {
        if (counter.proc.exitCode !== null) throw new Error(`the counter exited with ${counter.proc.exitCode}:\n${counter.output().slice(-4000)}`);
      },
    },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\nlast summary: ${JSON.stringify(last)}\ncounter output:\n${counter.output().slice(-3000)}`);
  });
}


/** Polls a metric of the counter until `ok` holds; the failure names the last value. */
export async function metricReaches(counter: RunningCounter, name: string, labels: Record<string, string>, ok: (v: number) => boolean): Promise<void> {
  let last: number | null = null;
  await pollUntil(
    async () => {
      last = await counter.metric(name, labels);
      return last !== null && ok(last) ? true : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 100, what: `${name}${JSON.stringify(labels)} (last ${String(last)})` },
  );
}
