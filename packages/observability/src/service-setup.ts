// The first half of every pipeline service's main.ts: its command line, its configuration,
// its logger, metrics registry and failpoints. Shared so the services' flags, exit code 2
// for a bad command line or configuration, and log setup agree; main.ts then builds its
// service from what this returns and hands it to runServiceProcess.
import { Command } from "commander";
import { loadServiceConfig, type Config } from "@zeroloss/config";
import { Failpoints, loadFailpoints } from "@zeroloss/failpoints";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { createLogger } from "./index.js";
import { createRegistry } from "./http.js";

export interface ServiceCommand {
  readonly name: "producer" | "consumer" | "counter";
  readonly description: string;
  /** Flags beyond --config. */
  readonly options?: (command: Command) => Command;
}

export interface ServiceSetup<O> {
  readonly opts: O;
  readonly config: Config;
  readonly log: Logger;
  readonly registry: Registry;
  /** Armed by ZEROLOSS_FAILPOINTS (docs/failpoints.md); the counter has none. */
  readonly failpoints: Failpoints;
}

/** What main needs to build its service, or the exit code to return: 0 after --help, 2 for a bad command line or configuration. */
export async function setUpService<O extends object>(argv: readonly string[], env: NodeJS.ProcessEnv, c: ServiceCommand): Promise<ServiceSetup<O & { config?: string }> | 0 | 2> {
  const base = new Command(`zeroloss ${c.name}`).description(c.description).option("-c, --config <file>", "zeroloss.yaml (ZEROLOSS_* variables override it)");
  const program = (c.options?.(base) ?? base).exitOverride();
  let opts: O & { config?: string };
  try {
    opts = program.parse([...argv]).opts<O & { config?: string }>();
  } catch (err) {
    return (err as { exitCode?: number }).exitCode === 0 ? 0 : 2;
  }
  const config = await loadServiceConfig(c.name, opts.config, env);
  if (config === null) return 2;
  const log = createLogger({ name: c.name, level: config.log.level, pretty: process.stderr.isTTY === true });
  const registry = createRegistry(c.name);
  const failpoints = c.name === "counter" ? Failpoints.none : loadFailpoints(c.name, env, log);
  if (failpoints === null) return 2;
  return { opts, config, log, registry, failpoints };
}
