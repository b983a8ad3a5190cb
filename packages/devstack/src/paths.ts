// Where the dev stack keeps things. Two roots on purpose:
//  - the cache folder (jars, Maven repository) is reused across runs and survives reboots;
//  - the run folder (clusters, logs, pid files) lives under the temp folder, readable by the
//    unprivileged user PostgreSQL runs as when we are root (a home folder often is not).
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

export type Env = Readonly<Record<string, string | undefined>>;

export function cacheDir(env: Env): string {
  const explicit = env["ZEROLOSS_CACHE_DIR"];
  if (explicit) return explicit;
  const xdg = env["XDG_CACHE_HOME"];
  return join(xdg ? xdg : join(homedir(), ".cache"), "zeroloss");
}

export function runRoot(env: Env): string {
  const explicit = env["ZEROLOSS_RUN_DIR"];
  if (explicit) return explicit;
  const uid = typeof process.getuid === "function" ? process.getuid() : 0;
  return join(tmpdir(), `zeroloss-devstack-${uid}`);
}

/** The state file of the one detached stack (`zeroloss dev up --detach`). */
export function detachedStateFile(env: Env): string {
  return join(runRoot(env), "detached.json");
}
