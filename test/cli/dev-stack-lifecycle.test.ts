// `zeroloss dev up/status/down` end to end, in a private run folder and in local mode, and
// the promise that nothing outlives the stack: no process, no listening port.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import pg from "pg";
import { Kafka, logLevel } from "kafkajs";
import { loadConfig } from "@zeroloss/config";
import { isAlive, isListening, pollUntil, sweepOrphans } from "@zeroloss/devstack";
import { testLogger } from "../setup/logger.js";
import { privateStackCli } from "../setup/private-stack.js";
import { listenersOn, recordedPids } from "../setup/listeners.js";

const { runDir, env, zeroloss } = privateStackCli("lifecycle");

function portOf(address: string): number {
  const match = /:(\d+)(\/[^/]*)?$/.exec(address);
  if (!match) throw new Error(`no port in ${address}`);
  return Number(match[1]);
}

async function expectNothingLeft(ports: number[], pids: number[]): Promise<void> {
  await pollUntil(async () => (pids.every((p) => !isAlive(p)) ? true : undefined), { timeoutMs: 30_000, what: `pids ${pids.join(",")} to exit` });
  // A freed ephemeral port may be taken at once by another process: what must be gone is
  // any listener of ours (a recorded pid, or a process started from the run folder).
  for (const port of ports) {
    const ours = listenersOn(port).filter((l) => pids.includes(l.pid) || l.cmdline.includes(runDir));
    expect(ours, `port ${port} still held by the stack`).toEqual([]);
  }
}

afterAll(async () => {
  zeroloss(["dev", "down"]);
  await sweepOrphans(runDir, testLogger("lifecycle"));
  rmSync(runDir, { recursive: true, force: true });
});

describe("zeroloss dev (detached)", () => {
  const configFile = join(runDir, "zeroloss.yaml");
  let endpoints: { source: string; target: string; kafka: string[]; sourceVersion: string; targetVersion: string };
  let pids: number[] = [];

  it("dev up --detach --json prints the contract and leaves a working stack", { timeout: 240_000 }, async () => {
    const up = zeroloss(["dev", "up", "--detach", "--json", "--config-out", configFile]);
    expect(up.code, up.stderr).toBe(0);
    endpoints = JSON.parse(up.stdout.trim()) as typeof endpoints;
    expect(Object.keys(endpoints)).toEqual(["source", "target", "kafka", "sourceVersion", "targetVersion"]);
    expect(endpoints.sourceVersion).toMatch(/^\d+\.\d+/);
    expect(endpoints.source).toMatch(/^postgres:\/\/zeroloss:[^@]+@127\.0\.0\.1:\d+\/source$/);
    expect(endpoints.target).toMatch(/^postgres:\/\/zeroloss:[^@]+@127\.0\.0\.1:\d+\/target$/);
    expect(endpoints.kafka).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+$/)]);
    pids = recordedPids(runDir);
    expect(pids).toHaveLength(3);

    for (const url of [endpoints.source, endpoints.target]) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const r = await client.query<{ wal_level: string }>("SELECT current_setting('wal_level') AS wal_level");
      await client.end();
      expect(r.rows[0]?.wal_level).toBe("logical");
    }
    const admin = new Kafka({ clientId: "lifecycle", brokers: endpoints.kafka, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    expect((await admin.describeCluster()).brokers).toHaveLength(1);
    await admin.disconnect();

    const config = await loadConfig({ file: configFile, env: {} });
    expect(config.source.url).toBe(endpoints.source);
    expect(config.kafka.brokers).toEqual(endpoints.kafka);
  });

  it("dev status reports it running; a second dev up --detach is refused", () => {
    const status = zeroloss(["dev", "status", "--json"]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ running: true, mode: "local", source: endpoints.source, kafka: endpoints.kafka });
    const again = zeroloss(["dev", "up", "--detach"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("STACK_ALREADY_RUNNING");
  });

  it("dev down leaves no process and no listening port", async () => {
    const down = zeroloss(["dev", "down"]);
    expect(down.code, down.stderr).toBe(0);
    await expectNothingLeft([portOf(endpoints.source), portOf(endpoints.target), ...endpoints.kafka.map(portOf)], pids);
    expect(readdirSync(runDir).filter((e) => e !== "zeroloss.yaml")).toEqual([]);
    const status = zeroloss(["dev", "status", "--json"]);
    expect(status.code).toBe(1);
    expect(JSON.parse(status.stdout)).toEqual({ running: false });
  });
});

async function foregroundStack() {
  const child = spawn(process.execPath, ["packages/cli/bin/zeroloss.js", "dev", "up", "--json"], { env, stdio: ["ignore", "pipe", "pipe"] });
  const output = { stdout: "", stderr: "" };
  child.stdout.on("data", (b: Buffer) => (output.stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => (output.stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const endpoints = await pollUntil(
    async () => {
      if (child.exitCode !== null) throw new Error(`dev up exited ${child.exitCode}: ${output.stderr}`);
      const line = output.stdout.split("\n").find((l) => l.startsWith("{"));
      return line === undefined ? undefined : (JSON.parse(line) as { source: string; target: string; kafka: string[] });
    },
    { timeoutMs: 180_000, what: "dev up to print its endpoints" },
  );
  return { child, output, exited, endpoints };
}

describe("zeroloss dev up (foreground)", () => {
  it("stops the stack and exits 1, naming the service, when a service dies", async () => {
    const { endpoints, exited, output } = await foregroundStack();
    const pids = recordedPids(runDir);
    const targetPid = JSON.parse(
      readFileSync(join(runDir, readdirSync(runDir).find((e) => existsSync(join(runDir, e, "pids")))!, "pids", "postgres-target.json"), "utf8"),
    ) as { pid: number };
    process.kill(targetPid.pid, "SIGKILL");
    expect(await exited).toBe(1);
    expect(output.stderr).toMatch(/postgres-target exited \(SIGKILL\)/);
    await expectNothingLeft([portOf(endpoints.source), ...endpoints.kafka.map(portOf)], pids);
  }, 300_000);

  it("takes every service down with it when killed with SIGKILL", async () => {
    const { child, endpoints } = await foregroundStack();
    const ports = [portOf(endpoints.source), portOf(endpoints.target), ...endpoints.kafka.map(portOf)];
    const pids = recordedPids(runDir);
    expect(pids).toHaveLength(3);
    for (const port of ports) {
      expect(await isListening(port)).toBe(true);
      expect(listenersOn(port).map((l) => l.pid).filter((p) => pids.includes(p)), `a recorded pid listens on ${port}`).toHaveLength(1);
    }

    child.kill("SIGKILL");
    await expectNothingLeft(ports, pids);
    // The folder stays until the next start sweeps it.
    expect(await sweepOrphans(runDir, testLogger("lifecycle"))).toBe(1);
    expect(readdirSync(runDir).filter((e) => e !== "zeroloss.yaml")).toEqual([]);
  }, 300_000);
});
