// What a stopped stack may have left behind: which processes listen on a TCP port (read from
// /proc, Linux) and which pids a dev-stack run folder recorded. The lifecycle tests ask "does
// anything of ours still listen?", not "is the port free?", because another test may
// legitimately take a port the moment our stack lets go of it.
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";

export interface Listener {
  pid: number;
  cmdline: string;
}

const TCP_LISTEN = "0A";

/**
 * Runs a /proc read; a process or fd that vanished meanwhile (ENOENT, ESRCH), or a process
 * this sandbox may not inspect (EACCES: not one the tests started), yields `gone`.
 */
function unlessGone<T>(read: () => T, gone: T): T {
  try {
    return read();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ESRCH" || code === "EACCES") return gone;
    throw e;
  }
}

function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = unlessGone(() => readFileSync(table, "utf8"), ""); // no tcp6 without IPv6
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      const local = f[1];
      if (local === undefined || f[3] !== TCP_LISTEN || !local.endsWith(`:${hexPort}`)) continue;
      if (f[9] !== undefined) inodes.add(f[9]);
    }
  }
  return inodes;
}

/** The processes holding a listening socket on `port` (any address). */
export function listenersOn(port: number): Listener[] {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return [];
  const found: Listener[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fds = unlessGone(() => readdirSync(`/proc/${entry}/fd`), []);
    const holds = fds.some((fd) => {
      const target = unlessGone(() => readlinkSync(`/proc/${entry}/fd/${fd}`), "");
      return target.startsWith("socket:[") && inodes.has(target.slice(8, -1));
    });
    if (!holds) continue;
    const cmdline = unlessGone(() => readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ").trim(), "(exited)");
    found.push({ pid: Number(entry), cmdline });
  }
  return found;
}

/** Every pid a dev-stack run folder has recorded (one pids/ folder per instance): what must be gone after a stop. */
export function recordedPids(runDir: string): number[] {
  const pids: number[] = [];
  for (const instance of readdirSync(runDir, { withFileTypes: true }).filter((e) => e.isDirectory())) {
    const pidDir = join(runDir, instance.name, "pids");
    if (!existsSync(pidDir)) continue;
    for (const f of readdirSync(pidDir)) pids.push((JSON.parse(readFileSync(join(pidDir, f), "utf8")) as { pid: number }).pid);
  }
  return pids;
}
