// The sweep at the start of every stack: it kills what a dead owner left behind, and it
// never kills a process whose command line does not name the instance (a recycled pid).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isAlive, pollUntil, sweepOrphans } from "@zeroloss/devstack";
import { testLogger } from "../setup/logger.js";

const root = mkdtempSync(join(tmpdir(), "zeroloss-sweep-"));
const spawned: number[] = [];

function idle(args: string[]): number {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", ...args], { detached: true, stdio: "ignore" });
  child.unref();
  spawned.push(child.pid as number);
  return child.pid as number;
}

function deadPid(): number {
  const r = spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" });
  return Number(r.stdout.trim());
}

function fakeInstance(name: string, owner: number, detached: boolean, processes: Record<string, number>): string {
  const dir = join(root, name);
  mkdirSync(join(dir, "pids"), { recursive: true });
  writeFileSync(join(dir, "instance.json"), JSON.stringify({ id: name, ownerPid: owner, ownerStart: null, detached, createdAt: new Date().toISOString() }));
  for (const [service, pid] of Object.entries(processes)) {
    writeFileSync(join(dir, "pids", `${service}.json`), JSON.stringify({ name: service, pid, stopSignal: "SIGTERM", logFile: "/dev/null" }));
  }
  return dir;
}

afterAll(() => {
  for (const pid of spawned) if (isAlive(pid)) process.kill(pid, "SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

describe("sweepOrphans", () => {
  it("stops the processes of a dead owner, spares live owners and strangers", async () => {
    const orphanDir = join(root, "orphaned");
    const orphan = idle([orphanDir]); // its command line names the instance folder
    const stranger = idle(["not-an-instance"]); // a recycled pid: must survive
    fakeInstance("orphaned", deadPid(), false, { "kafka-1": orphan, "postgres-source": stranger });
    const keeperDir = join(root, "owned");
    const kept = idle([keeperDir]);
    fakeInstance("owned", process.pid, false, { "kafka-1": kept });

    const swept = await sweepOrphans(root, testLogger("sweep"));
    expect(swept).toBe(1);
    await pollUntil(async () => (isAlive(orphan) ? undefined : true), { timeoutMs: 10_000, what: "the orphan to exit" });
    expect(isAlive(stranger)).toBe(true);
    expect(isAlive(kept)).toBe(true);
    expect(existsSync(orphanDir)).toBe(false);
    expect(existsSync(keeperDir)).toBe(true);
  });

  it("keeps a detached stack while its processes run, and clears it once they are gone", async () => {
    const dir = join(root, "detached");
    const service = idle([dir]);
    fakeInstance("detached", deadPid(), true, { "postgres-target": service });
    expect(await sweepOrphans(root, testLogger("sweep"))).toBe(0);
    expect(isAlive(service)).toBe(true);
    process.kill(service, "SIGKILL");
    await pollUntil(async () => (isAlive(service) ? undefined : true), { timeoutMs: 10_000, what: "the service to exit" });
    expect(await sweepOrphans(root, testLogger("sweep"))).toBe(1);
    expect(existsSync(dir)).toBe(false);
  });
});
