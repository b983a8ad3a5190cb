// The one detached stack per user (`zeroloss dev up --detach`): its state file, its status,
// and `zeroloss dev down`.
import { existsSync } from "node:fs";
import { readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { Logger } from "pino";
import { DevstackError } from "./errors.js";
import { isAlive, stopInstanceDir } from "./processes.js";
import { isListening } from "./ports.js";
import { removeContainers } from "./docker.js";
import { detachedStateFile, type Env } from "./paths.js";
import type { DevStack } from "./stack.js";

/** What `dev up --detach` records: the stack's description, derived from DevStack so the two cannot drift. */
export type DetachedState = Pick<DevStack, "source" | "target" | "kafka" | "registry" | "security" | "mode" | "brokers" | "kafkaVersion" | "instanceDir" | "pids" | "containers"> & {
  readonly startedAt: string;
};

export interface DetachedStatus {
  readonly state: DetachedState;
  readonly running: boolean;
  readonly services: ReadonlyArray<{ name: string; pid: number | null; alive: boolean; address: string | null; listening: boolean }>;
}

export async function readDetachedState(env: Env): Promise<DetachedState | undefined> {
  const file = detachedStateFile(env);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(await readFile(file, "utf8")) as DetachedState;
  } catch (err) {
    throw new DevstackError("STACK_CONFIG_INVALID", `cannot read ${file}: ${(err as Error).message}; remove it if no stack runs`, { cause: err });
  }
}

export async function writeDetachedState(env: Env, stack: DevStack): Promise<DetachedState> {
  const state: DetachedState = {
    source: stack.source,
    target: stack.target,
    kafka: stack.kafka,
    ...(stack.registry === undefined ? {} : { registry: stack.registry }),
    ...(stack.security === undefined ? {} : { security: stack.security }),
    mode: stack.mode,
    brokers: stack.brokers,
    kafkaVersion: stack.kafkaVersion,
    instanceDir: stack.instanceDir,
    pids: stack.pids,
    containers: stack.containers,
    startedAt: new Date().toISOString(),
  };
  const file = detachedStateFile(env);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(state, null, 2));
  return state;
}

function portOf(address: string): number | null {
  const match = /:(\d+)(?:\/|$)/.exec(address.replace(/^postgres(ql)?:\/\/[^@]*@/, ""));
  return match ? Number(match[1]) : null;
}

export async function detachedStatus(env: Env): Promise<DetachedStatus | undefined> {
  const state = await readDetachedState(env);
  if (state === undefined) return undefined;
  const addresses: Record<string, string> = { "postgres-source": state.source, "postgres-target": state.target };
  state.kafka.forEach((b, i) => (addresses[`kafka-${i + 1}`] = b));
  if (state.registry !== undefined) addresses["registry"] = state.registry;
  const services = await Promise.all(
    Object.entries(addresses).map(async ([name, address]) => {
      const pid = state.pids[name] ?? null;
      const port = portOf(address);
      const listening = port === null ? false : await isListening(port);
      return { name, pid, alive: pid === null ? listening : isAlive(pid), address, listening };
    }),
  );
  return { state, running: services.every((s) => s.alive && s.listening), services };
}

/** Stops the detached stack and removes its files. Returns false when none was running. */
export async function stopDetached(env: Env, log: Logger): Promise<boolean> {
  const state = await readDetachedState(env);
  if (state === undefined) return false;
  if (state.instanceDir !== null) {
    log.info({ instance: state.instanceDir }, "stopping local services");
    await stopInstanceDir(state.instanceDir);
  }
  if (state.containers.length > 0) {
    log.info({ containers: state.containers.length }, "removing containers");
    await removeContainers(state.containers);
  }
  await rm(detachedStateFile(env), { force: true });
  return true;
}
