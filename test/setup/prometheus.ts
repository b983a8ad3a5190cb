// A real Prometheus server for the tests that must see an alert fire: it scrapes the given
// services every second and evaluates deploy/alerts.yml every second. The rules are loaded
// as written except their `for:` durations, shortened to a few seconds so a test of
// minutes can see a rule that waits 5 minutes in production go from pending to firing; the
// expressions are the ones operators run.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { freePort, pollUntil } from "@zeroloss/devstack";

const ALERTS = resolve(import.meta.dirname, "../../deploy/alerts.yml");

export interface PrometheusAlert {
  readonly labels: Record<string, string>;
  readonly state: "pending" | "firing" | "inactive";
}

export interface RunningPrometheus {
  readonly url: string;
  alerts(): Promise<PrometheusAlert[]>;
  stop(): Promise<void>;
  output(): string;
}

export async function startPrometheus(targets: readonly { job: string; port: number }[], forSeconds = 3): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), "zeroloss-prometheus-"));
  writeFileSync(join(dir, "alerts.yml"), readFileSync(ALERTS, "utf8").replace(/^(\s+)for: \S+$/gm, `$1for: ${forSeconds}s`));
  writeFileSync(
    join(dir, "prometheus.yml"),
    stringify({
      global: { scrape_interval: "1s", evaluation_interval: "1s" },
      rule_files: ["alerts.yml"],
      scrape_configs: targets.map((t) => ({ job_name: t.job, static_configs: [{ targets: [`127.0.0.1:${t.port}`] }] })),
    }),
  );
  const port = await freePort();
  let out = "";
  const proc: ChildProcess = spawn(
    "prometheus",
    [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  proc.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const spawned = new Promise<void>((ok, fail) => {
    proc.once("spawn", ok);
    proc.once("error", (err) => fail(new Error(`cannot start prometheus (install it with scripts/bootstrap --test-tools; Debian: apt-get install prometheus): ${err.message}`)));
  });
  await spawned;
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((done) => proc.once("exit", () => done()));
  await pollUntil(
    async () => {
      const res = await fetch(`${url}/-/ready`);
      return res.ok ? true : undefined;
    },
    {
      timeoutMs: 30_000,
      what: `prometheus on ${url} to be ready`,
      abortIf: () => {
        if (proc.exitCode !== null) throw new Error(`prometheus exited ${proc.exitCode}:\n${out}`);
      },
    },
  );
  return {
    url,
    output: () => out,
    async alerts() {
      const res = await fetch(`${url}/api/v1/alerts`);
      if (!res.ok) throw new Error(`GET /api/v1/alerts: HTTP ${res.status}`);
      return ((await res.json()) as { data: { alerts: PrometheusAlert[] } }).data.alerts;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
