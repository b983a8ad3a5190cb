// `zeroloss dev up | status | down`: the local stack for development, tests and the demo.
import { writeFile } from "node:fs/promises";
import { stringify } from "yaml";
import { parseConfig, type ConfigInput } from "@zeroloss/config";
import {
  DevstackError,
  detachedStatus,
  readDetachedState,
  startDevStack,
  stopDetached,
  writeDetachedState,
  type DevStack,
  type StackEndpoints,
} from "@zeroloss/devstack";
import type { Logger } from "@zeroloss/observability";

/** The exact JSON of `dev up --json`: a public contract (README, docs/cli.md). */
export function endpointsJson(stack: StackEndpoints): string {
  return JSON.stringify({
    source: shown(stack, stack.source),
    target: shown(stack, stack.target),
    kafka: [...stack.kafka],
    ...(stack.sourceVersion === undefined ? {} : { sourceVersion: stack.sourceVersion }),
    ...(stack.targetVersion === undefined ? {} : { targetVersion: stack.targetVersion }),
    ...(stack.registry === undefined ? {} : { registry: stack.registry }),
    ...(stack.security === undefined ? {} : { security: stack.security }),
  });
}

/**
 * The configuration of every service for a stack, as `dev up --config-out` writes it.
 * `encoding` avro needs the stack's registry; a stack with one writes Avro unless told json.
 */
export function stackConfig(stack: StackEndpoints, brokers: number, encoding: "json" | "avro" = stack.registry === undefined ? "json" : "avro"): ConfigInput {
  // A secure stack's config keeps its passwords in files, as production configs should.
  const pg = (url: string) => (stack.security === undefined ? { url } : { url: withoutPassword(url), passwordFile: stack.security.postgresPasswordFile });
  return {
    source: { ...pg(stack.source), tables: ["public.*"], slot: "zeroloss", publication: "zeroloss" },
    target: pg(stack.target),
    kafka: {
      brokers: [...stack.kafka],
      topicPrefix: "zeroloss",
      partitions: 6,
      replicationFactor: brokers >= 3 ? 3 : 1,
      minInsyncReplicas: brokers >= 3 ? 2 : 1,
      encoding,
      ...(stack.registry === undefined ? {} : { registry: { url: stack.registry } }),
      // A secure stack: SASL_SSL with the run's CA and SCRAM user; the password stays in its file.
      ...(stack.security === undefined
        ? {}
        : {
            tls: { caFile: stack.security.caFile, certFile: stack.security.clientCertFile, keyFile: stack.security.clientKeyFile },
            sasl: { mechanism: "scram-sha-512" as const, username: stack.security.kafkaUser, passwordFile: stack.security.kafkaPasswordFile },
          }),
    },
    producer: { http: { port: 9401 } },
    consumer: { group: "zeroloss", http: { port: 9402 } },
    counter: { ...pg(stack.target), http: { port: 9400 } },
  };
}

/** A stack URL as printed: a secure stack's password stays in its file (security.postgresPasswordFile). */
function shown(stack: StackEndpoints, url: string): string {
  return stack.security === undefined ? url : withoutPassword(url);
}

function withoutPassword(url: string): string {
  const u = new URL(url);
  u.password = "";
  return u.toString();
}

/** A zeroloss.yaml, validated by the same loader the services use before anyone writes it. */
export function configText(config: ConfigInput, writtenBy: string): string {
  const text = `# Written by ${writtenBy} on ${new Date().toISOString()}.\n${stringify(config)}`;
  parseConfig(text, `generated zeroloss.yaml (${writtenBy})`);
  return text;
}

/** zeroloss.yaml for a stack. */
export function configForStack(stack: StackEndpoints, brokers: number): string {
  return configText(stackConfig(stack, brokers), "`zeroloss dev up` for its local stack");
}

function describe(stack: DevStack): string {
  const version = (v: string | null) => (v === null ? "" : `  (PostgreSQL ${v})`);
  return [
    `source  ${shown(stack, stack.source)}${version(stack.sourceVersion)}`,
    `target  ${shown(stack, stack.target)}${version(stack.targetVersion)}`,
    `kafka   ${stack.kafka.join(",")}${stack.kafkaVersion ? `  (Apache Kafka ${stack.kafkaVersion}, ${stack.brokers} broker${stack.brokers > 1 ? "s" : ""})` : ""}`,
    ...(stack.registry === undefined ? [] : [`registry ${stack.registry}  (Confluent-compatible API)`]),
    ...(stack.security === undefined
      ? []
      : [
          `secure  TLS only, client certificates required (CA ${stack.security.caFile}); PostgreSQL password in ${stack.security.postgresPasswordFile}; ` +
            `Kafka SASL_SSL as ${stack.security.kafkaUser} (SCRAM-SHA-512/256, PLAIN), password in ${stack.security.kafkaPasswordFile}`,
        ]),
    `mode    ${stack.mode}${stack.instanceDir ? `  (files and logs: ${stack.instanceDir})` : ""}`,
  ].join("\n");
}

export interface DevUpOptions {
  readonly brokers: 1 | 3;
  readonly detach: boolean;
  readonly json: boolean;
  readonly registry: boolean;
  readonly secure?: boolean;
  readonly configOut?: string;
  /** PostgreSQL majors (15, the default and the machine's; 16, 17, 18 downloaded on first use): --pg for both sides, --source-pg/--target-pg for one. */
  readonly pg?: number;
  readonly sourcePg?: number;
  readonly targetPg?: number;
  readonly log: Logger;
}

export async function devUp(options: DevUpOptions): Promise<number> {
  const log = options.log.child({ command: "dev up" });
  if (options.detach) {
    const existing = await detachedStatus(process.env);
    if (existing?.running) {
      throw new DevstackError("STACK_ALREADY_RUNNING", "a detached stack is already running; see `zeroloss dev status`, stop it with `zeroloss dev down`");
    }
    if (existing !== undefined) {
      log.warn("a previous detached stack is no longer healthy; removing it first");
      await stopDetached(process.env, log);
    }
  }
  const started = Date.now();
  const sourcePg = options.sourcePg ?? options.pg;
  const targetPg = options.targetPg ?? options.pg;
  const stack = await startDevStack({
    brokers: options.brokers,
    detached: options.detach,
    registry: options.registry,
    secure: options.secure === true,
    ...(sourcePg === undefined ? {} : { sourcePg }),
    ...(targetPg === undefined ? {} : { targetPg }),
    log,
  });
  log.info({ seconds: Math.round((Date.now() - started) / 100) / 10 }, "stack ready");
  try {
    if (options.configOut !== undefined) {
      await writeFile(options.configOut, configForStack(stack, options.brokers));
      log.info({ file: options.configOut }, "wrote config");
    }
  } catch (err) {
    await stack.stop();
    throw err;
  }
  process.stdout.write(options.json ? `${endpointsJson(stack)}\n` : `${describe(stack)}\n`);

  if (options.detach) {
    await writeDetachedState(process.env, stack);
    if (!options.json) process.stdout.write("detached: `zeroloss dev status` to check, `zeroloss dev down` to stop\n");
    return 0;
  }

  if (!options.json) process.stdout.write("running: press Ctrl-C to stop and remove the stack\n");
  const ended = await Promise.race([
    new Promise<{ signal: NodeJS.Signals }>((resolve) => {
      process.once("SIGINT", () => resolve({ signal: "SIGINT" }));
      process.once("SIGTERM", () => resolve({ signal: "SIGTERM" }));
    }),
    stack.unexpectedExit.then((report) => ({ report })),
  ]);
  if ("report" in ended) {
    process.stderr.write(`zeroloss: a service of the stack stopped on its own; stopping the rest.\n${ended.report}\n`);
    await stack.stop();
    return 1;
  }
  log.info({ signal: ended.signal }, "stopping");
  await stack.stop();
  log.info("stopped");
  return 0;
}

export async function devStatus(options: { json: boolean; log: Logger }): Promise<number> {
  const status = await detachedStatus(process.env);
  if (status === undefined) {
    process.stdout.write(options.json ? `${JSON.stringify({ running: false })}\n` : "no detached stack (start one with `zeroloss dev up --detach`)\n");
    return 1;
  }
  const { state } = status;
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({
        running: status.running,
        mode: state.mode,
        source: shown(state, state.source),
        target: shown(state, state.target),
        kafka: state.kafka,
        ...(state.registry === undefined ? {} : { registry: state.registry }),
        ...(state.security === undefined ? {} : { security: state.security }),
        brokers: state.brokers,
        kafkaVersion: state.kafkaVersion,
        startedAt: state.startedAt,
        services: status.services,
      })}\n`,
    );
  } else {
    const lines = status.services.map(
      (s) => `${s.alive && s.listening ? "up  " : "DOWN"}  ${s.name.padEnd(16)} ${s.address ?? ""}${s.pid !== null ? `  pid ${s.pid}` : ""}`,
    );
    process.stdout.write(`${status.running ? "running" : "degraded"} (${state.mode}, started ${state.startedAt})\n${lines.join("\n")}\n`);
  }
  return status.running ? 0 : 1;
}

export async function devDown(options: { log: Logger }): Promise<number> {
  const state = await readDetachedState(process.env);
  if (state === undefined) {
    process.stdout.write("no detached stack running\n");
    return 0;
  }
  await stopDetached(process.env, options.log.child({ command: "dev down" }));
  process.stdout.write("stopped\n");
  return 0;
}
