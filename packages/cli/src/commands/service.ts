// `zeroloss producer`, `consumer`, `counter` and `verify`: run a service (services/<name>) as a child
// process. Packages never import services, so the CLI spawns the built entry point with the
// same Node, hands it the terminal, forwards stop signals and exits with its exit code.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { ZerolossError, type ErrorCode } from "@zeroloss/errors";

export type ServiceName = "producer" | "consumer" | "counter" | "verifier";

/** The error of a service whose entry point is missing (not built), by service. */
export const NOT_BUILT = {
  producer: "PRODUCER_NOT_BUILT",
  consumer: "CONSUMER_NOT_BUILT",
  counter: "COUNTER_NOT_BUILT",
  verifier: "VERIFIER_NOT_BUILT",
} as const satisfies Record<ServiceName, ErrorCode>;

/** The error of a service whose process could not be spawned, by service. */
const START_FAILED = {
  producer: "PRODUCER_START_FAILED",
  consumer: "CONSUMER_START_FAILED",
  counter: "COUNTER_START_FAILED",
  verifier: "VERIFIER_START_FAILED",
} as const satisfies Record<ServiceName, ErrorCode>;

/** packages/cli/dist/commands/ → the repository root → services/<name>/dist/main.js (ZEROLOSS_<NAME>_MAIN overrides). */
export function serviceEntry(name: ServiceName, env: NodeJS.ProcessEnv = process.env): string {
  const override = env[`ZEROLOSS_${name.toUpperCase()}_MAIN`];
  return override !== undefined && override !== "" ? resolve(override) : resolve(import.meta.dirname, `../../../../services/${name}/dist/main.js`);
}

const FORWARDED: Partial<Record<NodeJS.Signals, NodeJS.Signals>> = {
  SIGINT: "SIGINT",
  SIGTERM: "SIGTERM",
  SIGHUP: "SIGTERM",
};

/**
 * Under `npx zeroloss …` (or `npm run`), `kill <npx's pid>` ends npm and the `sh -c` it runs,
 * but that shell does not pass the signal on: the CLI and its service were left running,
 * orphaned. npm always waits for its command, so under npm a parent that went away means the
 * user stopped it: the service is stopped as by SIGTERM. Outside npm a new parent means
 * nothing (`nohup zeroloss … &` outliving its terminal is meant).
 */
const ORPHAN_CHECK_MS = 1_000;

function startedByNpm(env: NodeJS.ProcessEnv): boolean {
  return env["npm_command"] !== undefined || env["npm_lifecycle_event"] !== undefined;
}

/** Runs the service with `--config` (when given) and `extraArgs`; resolves with its exit code. */
export async function runService(name: ServiceName, config: string | undefined, extraArgs: readonly string[] = []): Promise<number> {
  const entry = serviceEntry(name);
  if (!existsSync(entry)) {
    throw new ZerolossError(NOT_BUILT[name], `the ${name} service is not built (${entry} is missing); run npm run build in the repository first`, {
      details: { path: entry },
    });
  }
  const args = [entry, ...(config === undefined ? [] : ["--config", config]), ...extraArgs];
  // Same process group: a Ctrl-C reaches the service directly and again through us; the
  // service ignores a repeated signal within 2 s, so only a deliberate second Ctrl-C
  // forces it out. A kill of the CLI's whole group reaches it too.
  const child = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "inherit"], env: process.env });
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const [signal, forwardAs] of Object.entries(FORWARDED) as [NodeJS.Signals, NodeJS.Signals][]) {
    const handler = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(forwardAs);
    };
    handlers.set(signal, handler);
    process.on(signal, handler);
  }
  const parent = process.ppid;
  const orphanCheck = startedByNpm(process.env)
    ? setInterval(() => {
        if (process.ppid === parent || child.exitCode !== null || child.signalCode !== null) return;
        process.stderr.write(`zeroloss: npm, which started this ${name}, is gone (stopped with kill?); stopping the ${name}\n`);
        child.kill("SIGTERM");
        clearInterval(orphanCheck);
      }, ORPHAN_CHECK_MS)
    : undefined;
  orphanCheck?.unref();
  try {
    return await new Promise<number>((resolveExit, reject) => {
      child.once("error", (err) => reject(new ZerolossError(START_FAILED[name], `could not start the ${name} (${process.execPath} ${entry}): ${err.message}`, { cause: err })));
      child.once("exit", (code, signal) => {
        if (code !== null) return resolveExit(code);
        process.stderr.write(`zeroloss: the ${name} was killed by ${signal ?? "a signal"}\n`);
        resolveExit(1);
      });
    });
  } finally {
    clearInterval(orphanCheck);
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}
