// The demo's running pipeline: producer, consumer and counter as child processes (their
// built services/<name>/dist/main.js, as `zeroloss producer` etc. run them), each logging to
// a file in the demo folder. They are spawned through a dev-stack Instance, so they die
// with the demo even when it is killed with SIGKILL (parent-death signal) and a later stack
// sweeps up anything left. Packages never import services: this module only spawns them
// and reads what they serve on HTTP.
import { existsSync } from "node:fs";
import { copyFile } from "node:fs/promises";
import { join } from "node:path";
import { ENV_KEYS } from "@zeroloss/config";
import { Instance, isListening, freePort, runRoot, type ManagedProcess } from "@zeroloss/devstack";
import { ZerolossError } from "@zeroloss/errors";
import { parseMetrics, type Logger, type Sample } from "@zeroloss/observability";
import type { Summary } from "@zeroloss/wire";
import { NOT_BUILT, serviceEntry, type ServiceName } from "../service.js";

export type PipelineService = "producer" | "consumer" | "counter";
export const PIPELINE: readonly PipelineService[] = ["producer", "consumer", "counter"];

/** The ports the services prefer (their configuration defaults); taken ones are replaced by free ones. */
const PREFERRED_PORT: Record<PipelineService, number> = { counter: 9400, producer: 9401, consumer: 9402 };

export async function choosePorts(): Promise<Record<PipelineService, number>> {
  const ports = { ...PREFERRED_PORT };
  for (const name of PIPELINE) if (await isListening(ports[name])) ports[name] = await freePort();
  return ports;
}

/**
 * The services' environment: this process's, without the ZEROLOSS_* variables that override
 * configuration keys — the demo's zeroloss.yaml names its own stack, and an exported
 * ZEROLOSS_SOURCE_URL must not point a service elsewhere.
 */
export function serviceEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const overrides = new Set(ENV_KEYS.map((k) => k.variable));
  return Object.fromEntries(Object.entries(env).filter(([k]) => !overrides.has(k)));
}

function entryOf(name: ServiceName): string {
  const entry = serviceEntry(name);
  if (!existsSync(entry)) {
    throw new ZerolossError(NOT_BUILT[name], `the ${name} service is not built (${entry} is missing); run npm run build in the repository first`);
  }
  return entry;
}

export class Pipeline {
  private constructor(
    private readonly instance: Instance,
    private readonly procs: Map<PipelineService, ManagedProcess>,
    readonly ports: Record<PipelineService, number>,
  ) {}

  static async start(o: { configFile: string; dir: string; ports: Record<PipelineService, number>; log: Logger }): Promise<Pipeline> {
    const instance = await Instance.create({ root: runRoot(process.env), detached: false, log: o.log });
    const procs = new Map<PipelineService, ManagedProcess>();
    const pipeline = new Pipeline(instance, procs, o.ports);
    try {
      // The instance recognises its processes by their command line naming its folder (a
      // recycled pid is never signalled): the services read a copy of the config kept there.
      const config = join(instance.dir, "zeroloss.yaml");
      await copyFile(o.configFile, config);
      for (const name of PIPELINE) {
        const proc = await instance.spawn({
          name,
          command: process.execPath,
          args: [entryOf(name), "--config", config],
          baseEnv: serviceEnv(),
          cwd: o.dir,
          stopSignal: "SIGTERM",
          logFile: join(o.dir, `${name}.log`),
        });
        procs.set(name, proc);
      }
    } catch (err) {
      await pipeline.stop();
      throw err;
    }
    return pipeline;
  }

  url(name: PipelineService, path = "/"): string {
    return `http://127.0.0.1:${this.ports[name]}${path}`;
  }

  /** Throws, naming the service and the end of its log, when one of them has exited. */
  assertRunning(): void {
    for (const proc of this.procs.values()) proc.assertRunning();
  }

  /** True once every service answers on HTTP (healthy or not). */
  async serving(): Promise<boolean> {
    this.assertRunning();
    for (const name of PIPELINE) if (!(await isListening(this.ports[name]))) return false;
    return true;
  }

  async metrics(name: PipelineService): Promise<Sample[]> {
    const res = await fetch(this.url(name, "/metrics"), { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new ZerolossError("DEMO_SERVICE_UNREADABLE", `the ${name}'s /metrics answered HTTP ${res.status}`);
    return parseMetrics(await res.text());
  }

  async summary(): Promise<Summary> {
    const res = await fetch(this.url("counter", "/api/summary"), { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new ZerolossError("DEMO_SERVICE_UNREADABLE", `the counter's /api/summary answered HTTP ${res.status}`);
    return (await res.json()) as Summary;
  }

  /** SIGTERM to each (counter, consumer, producer), SIGKILL after the grace period. */
  async stop(): Promise<void> {
    await this.instance.stop();
  }
}
