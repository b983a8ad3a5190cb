// Finds the programs the local stack runs, or says exactly what to install.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { DevstackError, missingPrerequisite } from "./errors.js";
import type { RunAs } from "./processes.js";
import type { Env } from "./paths.js";

function run(command: string, args: string[]): { ok: boolean; out: string } {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return { ok: result.status === 0, out: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}

function hasServerBinaries(dir: string): boolean {
  return existsSync(join(dir, "initdb")) && existsSync(join(dir, "postgres"));
}

/** PostgreSQL's server binaries: ZEROLOSS_PG_BINDIR, `pg_config --bindir`, then the newest /usr/lib/postgresql/N/bin. */
export function findPostgresBinDir(env: Env): string {
  const explicit = env["ZEROLOSS_PG_BINDIR"];
  if (explicit) {
    if (hasServerBinaries(explicit)) return explicit;
    throw missingPrerequisite(`PostgreSQL server binaries in ZEROLOSS_PG_BINDIR=${explicit}`, "apt-get install postgresql");
  }
  const fromPgConfig = run("pg_config", ["--bindir"]);
  if (fromPgConfig.ok && hasServerBinaries(fromPgConfig.out.trim())) return fromPgConfig.out.trim();
  const debianRoot = "/usr/lib/postgresql";
  if (existsSync(debianRoot)) {
    const versions = readdirSync(debianRoot)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const dir = join(debianRoot, v, "bin");
      if (hasServerBinaries(dir)) return dir;
    }
  }
  throw missingPrerequisite("PostgreSQL server (initdb, postgres)", "apt-get install postgresql");
}

/**
 * PostgreSQL refuses to run as root. As root we run it as an unprivileged user:
 * ZEROLOSS_PG_USER, else `postgres` (created by Debian's package), else `nobody`.
 */
export function postgresRunAs(env: Env): RunAs | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  const candidates = env["ZEROLOSS_PG_USER"] ? [env["ZEROLOSS_PG_USER"]] : ["postgres", "nobody"];
  for (const user of candidates) {
    const uid = run("id", ["-u", user]);
    const gid = run("id", ["-g", user]);
    if (uid.ok && gid.ok) return { user, uid: Number(uid.out.trim()), gid: Number(gid.out.trim()) };
  }
  throw missingPrerequisite(
    `an unprivileged user to run PostgreSQL as (tried ${candidates.join(", ")})`,
    "useradd --system postgres, or set ZEROLOSS_PG_USER",
  );
}

/** The java binary, checked to be 17 or newer (Kafka 4 needs it). */
export function findJava(env: Env): string {
  const javaHome = env["JAVA_HOME"];
  const java = javaHome ? join(javaHome, "bin", "java") : "java";
  const version = run(java, ["-version"]);
  if (!version.ok) throw missingPrerequisite("Java 17+ runtime", "apt-get install openjdk-17-jre-headless");
  const match = /version "(\d+)(?:\.(\d+))?/.exec(version.out);
  const major = match ? (match[1] === "1" ? Number(match[2]) : Number(match[1])) : 0;
  if (major < 17) {
    throw missingPrerequisite(`Java 17+ runtime (found Java ${major} at ${java})`, "apt-get install openjdk-17-jre-headless");
  }
  return java;
}

export function findMaven(): string {
  if (!run("mvn", ["--version"]).ok) throw missingPrerequisite("Maven (mvn)", "apt-get install maven");
  return "mvn";
}

/**
 * Everything the local mode needs, checked before anything starts, so a fresh machine gets
 * one message listing every missing tool with its install command.
 */
export function checkLocalPrerequisites(env: Env, need: { maven: boolean; systemPostgres: boolean }): void {
  const checks: Array<() => unknown> = [() => postgresRunAs(env), () => findJava(env)];
  // A stack of downloaded PostgreSQL releases only (postgres-binaries.ts) needs no system one.
  if (need.systemPostgres) checks.unshift(() => findPostgresBinDir(env));
  if (need.maven) checks.push(() => findMaven());
  const missing: string[] = [];
  for (const check of checks) {
    try {
      check();
    } catch (err) {
      if (!(err instanceof DevstackError) || err.code !== "PREREQUISITE_MISSING") throw err;
      missing.push(`${String(err.details["what"])} (install: ${String(err.details["install"])})`);
    }
  }
  if (missing.length === 1) throw new DevstackError("PREREQUISITE_MISSING", `${missing[0]} is missing; scripts/bootstrap installs everything`);
  if (missing.length > 1) {
    throw new DevstackError("PREREQUISITE_MISSING", `missing:\n  - ${missing.join("\n  - ")}\nscripts/bootstrap installs everything`);
  }
}
