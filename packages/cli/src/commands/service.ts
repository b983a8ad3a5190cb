// `zeroloss producer`, `consumer`, `counter` and `verify`: run a service (services/<name>) as a child
// process. Packages never import services, so the CLI spawns the built entry point with the
// same Node and hands it the terminal (child.ts: signals, npm, exit code).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { ZerolossError, type ErrorCode } from "@zeroloss/errors";
import { superviseChild } from "./child.js";

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

/** Runs the service with `--config` (when given) and `extraArgs`; resolves with its exit code. */
export async function runService(name: ServiceName, config: string | undefined, extraArgs: readonly string[] = []): Promise<number> {
  const entry = serviceEntry(name);
  if (!existsSync(entry)) {
    throw new ZerolossError(NOT_BUILT[name], `the ${name} service is not built (${entry} is missing); run npm run build in the repository first`, {
      details: { path: entry },
    });
  }
  const args = [entry, ...(config === undefined ? [] : ["--config", config]), ...extraArgs];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "inherit"], env: process.env });
  return superviseChild(child, name, (err) => new ZerolossError(START_FAILED[name], `could not start the ${name} (${process.execPath} ${entry}): ${err.message}`, { cause: err }));
}
