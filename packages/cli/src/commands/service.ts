// `zeroloss producer`, `consumer`, `counter` and `verify`: run a service (services/<name>) as a child
// process. Packages never import services, so the CLI spawns the built entry point with the
// same Node, hands it the terminal, forwards stop signals and exits with its exit code.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { ZerolossError } from "@zeroloss/errors";

export type ServiceName = "producer" | "consumer" | "counter" | "verifier";

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

/** Runs the service with `--config` (when given) and `extraArgs`; resolves with its exit code. */
export async function runService(name: ServiceName, config: string | undefined, extraArgs: readonly string[] = []): Promise<number> {
  const entry = serviceEntry(name);
  const NAME = name.toUpperCase();
  if (!existsSync(entry)) {
    throw new ZerolossError(`${NAME}_NOT_BUILT`, `the ${name} service is not built (${entry} is missing); run npm run build in the repository first`, {
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
  try {
    return await new Promise<number>((resolveExit, reject) => {
      child.once("error", (err) => reject(new ZerolossError(`${NAME}_START_FAILED`, `could not start the ${name} (${process.execPath} ${entry}): ${err.message}`, { cause: err })));
      child.once("exit", (code, signal) => {
        if (code !== null) return resolveExit(code);
        process.stderr.write(`zeroloss: the ${name} was killed by ${signal ?? "a signal"}\n`);
        resolveExit(1);
      });
    });
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}
