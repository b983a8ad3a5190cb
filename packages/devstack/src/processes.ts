// Child processes of the dev stack, and the guarantee that none outlives its owner.
//
// Every stack is an "instance": a folder under the run root holding instance.json (who owns
// it, whether it is detached) and one pid file per process. Three layers keep machines clean:
//  1. stop(): SIGTERM/SIGINT to the process group, then SIGKILL after a grace period;
//  2. a parent-death signal (setpriv --pdeathsig): a non-detached service dies with the
//     process that started it, even when that process is killed with SIGKILL;
//  3. sweepOrphans() at every start: kills what a dead owner left behind, checking each pid's
//     command line still names the instance folder, so a recycled pid is never touched.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { chmod, chown, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { DevstackError, missingPrerequisite } from "./errors.js";
import { pollUntil } from "@zeroloss/errors";

export interface RunAs {
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
}

export interface ProcessSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** The environment `env` is added to (default: this process's). */
  readonly baseEnv?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly runAs?: RunAs;
  /** PostgreSQL wants SIGINT (fast shutdown); the JVM SIGTERM. */
  readonly stopSignal: NodeJS.Signals;
  readonly logFile: string;
}

interface PidRecord {
  readonly name: string;
  readonly pid: number;
  readonly stopSignal: NodeJS.Signals;
  readonly logFile: string;
}

interface InstanceMeta {
  readonly id: string;
  readonly ownerPid: number;
  readonly ownerStart: string | null;
  readonly detached: boolean;
  readonly createdAt: string;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const STOP_GRACE_MS = 15_000;

function linuxProcStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime); the command name in field 2 may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null; // not Linux, or the process is gone: callers fall back to kill(pid, 0)
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  return !isZombie(pid);
}

function commandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return null;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

/** True when the pid is alive and (where /proc exists) its command line names `marker`. */
function isOurs(pid: number, marker: string): boolean {
  if (!isAlive(pid)) return false;
  const cmd = commandLine(pid);
  return cmd === null ? true : cmd.includes(marker);
}

async function stopByPid(record: PidRecord, marker: string, graceMs: number): Promise<void> {
  if (!isOurs(record.pid, marker)) return;
  signalGroup(record.pid, record.stopSignal);
  try {
    await pollUntil(async () => (isAlive(record.pid) ? undefined : true), {
      timeoutMs: graceMs,
      intervalMs: 100,
      what: `${record.name} (pid ${record.pid}) to stop`,
    });
  } catch {
    signalGroup(record.pid, "SIGKILL"); // grace period over: the group goes now
  }
  // Children of a killed group leader (PostgreSQL backends) may outlive it briefly.
  signalGroup(record.pid, "SIGKILL");
}

let setprivPath: string | null | undefined;
function setpriv(): string | null {
  if (setprivPath === undefined) {
    const found = spawnSync("sh", ["-c", "command -v setpriv"], { encoding: "utf8" });
    setprivPath = found.status === 0 ? found.stdout.trim() : null;
  }
  return setprivPath;
}

export class ManagedProcess {
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;

  constructor(
    readonly name: string,
    readonly pid: number,
    readonly logFile: string,
    private readonly record: PidRecord,
    private readonly marker: string,
    child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  get exitStatus(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** The last lines of its log, for error messages. */
  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch (err) {
      return `(log ${this.logFile} unreadable: ${(err as Error).message})`;
    }
  }

  /** Throws when the process has exited; used while waiting for readiness. */
  assertRunning(): void {
    if (this.exitInfo === undefined) return;
    const how = this.exitInfo.signal ?? `code ${String(this.exitInfo.code)}`;
    throw new DevstackError("SERVICE_START_FAILED", `${this.name} exited (${how}) before it was ready. Last lines of ${this.logFile}:\n${this.logTail()}`);
  }

  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    if (this.exitInfo !== undefined) {
      signalGroup(this.pid, "SIGKILL"); // leftovers of the group, if any
      return;
    }
    await stopByPid(this.record, this.marker, graceMs);
    await this.exited;
  }
}

export interface InstanceOptions {
  readonly root: string;
  readonly detached: boolean;
  readonly log: Logger;
}

/** One dev stack's folder, processes and pid files. */
export class Instance {
  private readonly processes: ManagedProcess[] = [];

  private constructor(
    readonly id: string,
    readonly dir: string,
    readonly detached: boolean,
    private readonly log: Logger,
  ) {}

  static async create(options: InstanceOptions): Promise<Instance> {
    await mkdir(options.root, { recursive: true, mode: 0o755 });
    // PostgreSQL runs as another user when we are root: it must be able to reach its folder.
    await chmod(options.root, 0o755);
    await sweepOrphans(options.root, options.log);
    const id = `${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, "")}-${randomBytes(3).toString("hex")}`;
    const dir = join(options.root, id);
    await mkdir(join(dir, "pids"), { recursive: true, mode: 0o755 });
    await chmod(dir, 0o755);
    const meta: InstanceMeta = {
      id,
      ownerPid: process.pid,
      ownerStart: linuxProcStart(process.pid),
      detached: options.detached,
      createdAt: new Date().toISOString(),
    };
    await writeFile(join(dir, "instance.json"), JSON.stringify(meta, null, 2));
    return new Instance(id, dir, options.detached, options.log);
  }

  /** A folder inside the instance, owned by `runAs` when given (PostgreSQL refuses root). */
  async subdir(name: string, runAs?: RunAs): Promise<string> {
    const path = join(this.dir, name);
    await mkdir(path, { recursive: true, mode: 0o700 });
    if (runAs !== undefined) await chown(path, runAs.uid, runAs.gid);
    return path;
  }

  async spawn(spec: ProcessSpec): Promise<ManagedProcess> {
    const wrapper = setpriv();
    if (wrapper === null && (spec.runAs !== undefined || !this.detached)) {
      throw missingPrerequisite("setpriv (util-linux)", "apt-get install util-linux");
    }
    const prefix: string[] = [];
    if (spec.runAs !== undefined) {
      prefix.push(`--reuid=${spec.runAs.uid}`, `--regid=${spec.runAs.gid}`, "--init-groups");
    }
    // Set last by setpriv, after the uid change that would otherwise clear it.
    if (!this.detached) prefix.push("--pdeathsig=KILL");
    const [command, args] =
      prefix.length > 0 && wrapper !== null
        ? [wrapper, [...prefix, "--", spec.command, ...spec.args]]
        : [spec.command, [...spec.args]];

    const logFd = openSync(spec.logFile, "a", 0o644);
    if (spec.runAs !== undefined) await chown(spec.logFile, spec.runAs.uid, spec.runAs.gid);
    let child: ChildProcess;
    try {
      child = spawn(command, args, {
        cwd: spec.cwd ?? this.dir,
        env: { ...(spec.baseEnv ?? process.env), ...spec.env, ...(spec.runAs ? { HOME: this.dir, USER: spec.runAs.user } : {}) },
        stdio: ["ignore", logFd, logFd],
        detached: true, // own process group (setsid), so stop() reaches every child of it
      });
    } finally {
      closeSync(logFd);
    }
    const pid = await new Promise<number>((resolve, reject) => {
      child.once("error", (err) =>
        reject(new DevstackError("SERVICE_START_FAILED", `cannot start ${spec.name} (${spec.command}): ${err.message}`, { cause: err })),
      );
      child.once("spawn", () => resolve(child.pid as number));
    });
    if (this.detached) child.unref();
    const record: PidRecord = { name: spec.name, pid, stopSignal: spec.stopSignal, logFile: spec.logFile };
    await writeFile(join(this.dir, "pids", `${spec.name}.json`), JSON.stringify(record));
    const managed = new ManagedProcess(spec.name, pid, spec.logFile, record, this.dir, child);
    this.processes.push(managed);
    this.log.debug({ service: spec.name, pid, log: spec.logFile }, "started");
    return managed;
  }

  /** Stops every process, newest first, then removes the folder unless told to keep it. */
  async stop(options: { keepFiles?: boolean } = {}): Promise<void> {
    for (const p of [...this.processes].reverse()) await p.stop();
    this.processes.length = 0;
    if (options.keepFiles !== true) await rm(this.dir, { recursive: true, force: true });
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch {
    return undefined; // missing or half-written: treated as no record
  }
}

async function pidRecords(dir: string): Promise<PidRecord[]> {
  const pidDir = join(dir, "pids");
  if (!existsSync(pidDir)) return [];
  const records: PidRecord[] = [];
  for (const file of await readdir(pidDir)) {
    const record = await readJson<PidRecord>(join(pidDir, file));
    if (record !== undefined) records.push(record);
  }
  return records;
}

function ownerAlive(meta: InstanceMeta): boolean {
  if (!isAlive(meta.ownerPid)) return false;
  const start = linuxProcStart(meta.ownerPid);
  return meta.ownerStart === null || start === null || start === meta.ownerStart;
}

/** Stops every process of an instance folder (its owner may be gone) and removes the folder. */
export async function stopInstanceDir(dir: string, graceMs = STOP_GRACE_MS): Promise<void> {
  const records = await pidRecords(dir);
  await Promise.all(records.map((r) => stopByPid(r, dir, graceMs)));
  await rm(dir, { recursive: true, force: true });
}

/** True when any process recorded in the instance folder is still running. */
export async function instanceHasLiveProcesses(dir: string): Promise<boolean> {
  return (await pidRecords(dir)).some((r) => isOurs(r.pid, dir));
}

/** Kills what dead owners left behind: the sweep at the start of every stack. */
export async function sweepOrphans(root: string, log: Logger): Promise<number> {
  if (!existsSync(root)) return 0;
  let swept = 0;
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(root, entry.name);
    const meta = await readJson<InstanceMeta>(join(dir, "instance.json"));
    if (meta === undefined) continue;
    if (meta.detached ? await instanceHasLiveProcesses(dir) : ownerAlive(meta)) continue;
    const leftovers = (await pidRecords(dir)).filter((r) => isOurs(r.pid, dir));
    if (leftovers.length > 0) {
      log.warn({ instance: meta.id, processes: leftovers.map((r) => `${r.name}:${r.pid}`) }, "stopping processes left by a dead dev stack");
    }
    await stopInstanceDir(dir, 5_000);
    swept++;
  }
  return swept;
}
