// The dev stack: a source and a target PostgreSQL and an Apache Kafka cluster, from one of
//  - "external": ZEROLOSS_SOURCE_URL, ZEROLOSS_TARGET_URL and ZEROLOSS_KAFKA_BROKERS are set;
//    nothing is started;
//  - "docker": a Docker engine answers; testcontainers starts the services;
//  - "local": PostgreSQL binaries (the machine's 15, or 16-18 from Maven Central: each side
//    its own, postgres-binaries.ts) and Kafka's jars run as child processes.
// ZEROLOSS_DEVSTACK=local|docker forces a mode. With `registry`, a Confluent-compatible
// schema registry joins it (registry.ts; ZEROLOSS_REGISTRY_URL names one in external mode).
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { makeDevCertificates, type DevCertificates } from "./certs.js";
import { DevstackError } from "./errors.js";
import { startKafka, waitForKafka, type BrokerCount, type KafkaHandle } from "./kafka.js";
import { serverVersion, startPostgres } from "./postgres.js";
import { ensurePostgresBinaries, parsePostgresMajor, postgresRelease } from "./postgres-binaries.js";
import { startRegistry } from "./registry.js";
import { checkLocalPrerequisites } from "./prereqs.js";
import { kafkaRuntimeCached } from "./kafka-runtime.js";
import { Instance } from "./processes.js";
import { runRoot, type Env } from "./paths.js";
import { dockerAnswers, POSTGRES_IMAGE, startDockerKafka, startDockerStack } from "./docker.js";

export type StackMode = "local" | "docker" | "external";

/** What `zeroloss dev up --json` prints: a public contract, keep its shape. */
export interface StackEndpoints {
  readonly source: string;
  readonly target: string;
  readonly kafka: readonly string[];
  /** Each side's PostgreSQL (`SHOW server_version`: "15.14", "18.7"); null when an external server did not answer at start. */
  readonly sourceVersion?: string | null;
  readonly targetVersion?: string | null;
  /** The schema registry's Confluent-compatible URL, when one was asked for. */
  readonly registry?: string;
  /** A secure stack's credentials and CA (`dev up --secure`): `kafka` are then SASL_SSL listeners and the PostgreSQL URLs ask for verify-full. */
  readonly security?: StackSecurity;
}

export interface StackSecurity {
  /** PEM of the CA that signed the stack's server certificates. */
  readonly caFile: string;
  /** A client certificate and key signed by that CA (mutual TLS). */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** A SCRAM-SHA-512 (also SCRAM-SHA-256 and PLAIN) user of the Kafka cluster; its password is in kafkaPasswordFile. */
  readonly kafkaUser: string;
  readonly kafkaPasswordFile: string;
  /** The PostgreSQL superuser's password (both clusters; also in the URLs, as the dev stack's always are). */
  readonly postgresPasswordFile: string;
}

export interface DevStack extends StackEndpoints {
  readonly mode: StackMode;
  readonly brokers: BrokerCount;
  readonly kafkaVersion: string | null;
  readonly sourceVersion: string | null;
  readonly targetVersion: string | null;
  /** The local instance folder (clusters, logs, pid files); null for docker and external. */
  readonly instanceDir: string | null;
  /** Process ids of the local services, by name. */
  readonly pids: Readonly<Record<string, number>>;
  /** Docker container ids, for `zeroloss dev down` of a detached docker stack. */
  readonly containers: readonly string[];
  /** Settles with a report (name, exit status, last log lines) of the first local service that exits on its own; never for docker and external. */
  readonly unexpectedExit: Promise<string>;
  stop(): Promise<void>;
}

const never = new Promise<string>(() => {});

export interface StartStackOptions {
  readonly brokers?: BrokerCount;
  /** Leave the services running after this process exits (`zeroloss dev up --detach`). */
  readonly detached?: boolean;
  readonly env?: Env;
  readonly log: Logger;
  /** Database names created in the two clusters. */
  readonly sourceDatabase?: string;
  readonly targetDatabase?: string;
  /** Start a schema registry too (`zeroloss dev up --registry`). */
  readonly registry?: boolean;
  /** TLS-only PostgreSQL and a SASL_SSL Kafka listener, with certificates made for the run (`zeroloss dev up --secure`; local mode only). */
  readonly secure?: boolean;
  /**
   * The PostgreSQL major of each side: 15 (the machine's, the default), 16, 17 or 18
   * (downloaded from Maven Central on first use). Local mode runs them; external mode checks
   * the named servers are that major (a test matrix must not pass on another version); docker
   * mode refuses them (its image is fixed).
   */
  readonly sourcePg?: number;
  readonly targetPg?: number;
}

async function settledOrThrow<T extends readonly unknown[]>(promises: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === "rejected");
  if (failed !== undefined) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}

const EXTERNAL_VARS = ["ZEROLOSS_SOURCE_URL", "ZEROLOSS_TARGET_URL", "ZEROLOSS_KAFKA_BROKERS"] as const;

function externalEndpoints(env: Env): StackEndpoints | undefined {
  const set = EXTERNAL_VARS.filter((v) => (env[v] ?? "") !== "");
  if (set.length === 0) return undefined;
  if (set.length < EXTERNAL_VARS.length) {
    const missing = EXTERNAL_VARS.filter((v) => !set.includes(v));
    throw new DevstackError(
      "STACK_CONFIG_INVALID",
      `${set.join(", ")} set but ${missing.join(", ")} not: set all three to use existing services, or none to start a local stack`,
    );
  }
  return {
    source: env["ZEROLOSS_SOURCE_URL"] as string,
    target: env["ZEROLOSS_TARGET_URL"] as string,
    kafka: (env["ZEROLOSS_KAFKA_BROKERS"] as string).split(",").map((s) => s.trim()).filter((s) => s !== ""),
  };
}

export async function chooseMode(env: Env): Promise<StackMode> {
  if (externalEndpoints(env) !== undefined) return "external";
  const forced = env["ZEROLOSS_DEVSTACK"];
  if (forced === "local" || forced === "docker") return forced;
  if (forced !== undefined && forced !== "") {
    throw new DevstackError("STACK_CONFIG_INVALID", `ZEROLOSS_DEVSTACK=${forced} is not a mode: use local or docker`);
  }
  return (await dockerAnswers(env)) ? "docker" : "local";
}

export async function startDevStack(options: StartStackOptions): Promise<DevStack> {
  const env = options.env ?? process.env;
  const brokers = options.brokers ?? 1;
  const log = options.log;
  const mode = await chooseMode(env);
  if (options.secure === true && mode !== "local") {
    throw new DevstackError("STACK_CONFIG_INVALID", `a secure stack runs in local mode only (this one would be ${mode}): set ZEROLOSS_DEVSTACK=local and unset ZEROLOSS_SOURCE_URL & co.`);
  }
  // Checked before anything starts: an unknown major is refused at once.
  const sourcePg = options.sourcePg === undefined ? undefined : parsePostgresMajor(String(options.sourcePg), "source PostgreSQL");
  const targetPg = options.targetPg === undefined ? undefined : parsePostgresMajor(String(options.targetPg), "target PostgreSQL");
  if (mode === "docker" && (sourcePg !== undefined || targetPg !== undefined)) {
    throw new DevstackError(
      "STACK_CONFIG_INVALID",
      `a PostgreSQL version (source ${sourcePg ?? "default"}, target ${targetPg ?? "default"}) is chosen in local mode only; the docker stack runs ${POSTGRES_IMAGE}: set ZEROLOSS_DEVSTACK=local`,
    );
  }

  if (mode === "external") {
    const found = externalEndpoints(env) as StackEndpoints;
    const registry = env["ZEROLOSS_REGISTRY_URL"] ?? "";
    if (options.registry === true && registry === "") {
      throw new DevstackError("STACK_CONFIG_INVALID", "a schema registry was asked for, but the stack is external: set ZEROLOSS_REGISTRY_URL to its Confluent-compatible URL");
    }
    const endpoints: StackEndpoints = options.registry === true ? { ...found, registry } : found;
    log.info({ source: endpoints.source.replace(/:[^:@/]*@/, ":***@"), kafka: endpoints.kafka }, "using the services named by ZEROLOSS_* variables");
    await waitForKafka(endpoints.kafka, brokers, { timeoutMs: 30_000 });
    const [sourceVersion, targetVersion] = await Promise.all([externalVersion("source", endpoints.source, sourcePg), externalVersion("target", endpoints.target, targetPg)]);
    return { ...endpoints, mode, brokers, kafkaVersion: null, sourceVersion, targetVersion, instanceDir: null, pids: {}, containers: [], unexpectedExit: never, stop: async () => {} };
  }

  if (mode === "docker") {
    const stack = await startDockerStack({
      brokers,
      detached: options.detached ?? false,
      log,
      sourceDatabase: options.sourceDatabase ?? "source",
      targetDatabase: options.targetDatabase ?? "target",
      registry: options.registry === true,
    });
    try {
      const [sourceVersion, targetVersion] = await Promise.all([serverVersion(stack.source), serverVersion(stack.target)]);
      return { ...stack, sourceVersion, targetVersion };
    } catch (err) {
      await stack.stop();
      throw err;
    }
  }

  const systemPg = (major: number | undefined) => major === undefined || postgresRelease(parsePostgresMajor(String(major), "PostgreSQL")) === undefined;
  checkLocalPrerequisites(env, { maven: !kafkaRuntimeCached(env), systemPostgres: systemPg(sourcePg) || systemPg(targetPg) });
  // Downloaded (first use) before the instance exists: nothing to stop if Maven Central fails.
  const [sourceBin, targetBin] = await Promise.all([ensurePostgresBinaries(sourcePg, { env, log }), ensurePostgresBinaries(targetPg, { env, log })]);
  const instance = await Instance.create({ root: runRoot(env), detached: options.detached ?? false, log });
  try {
    // allSettled, not all: when one service fails, the others must finish spawning before
    // the instance is stopped, or a late starter would outlive the stop.
    const secure = options.secure === true ? await secureParts(instance) : null;
    const tls = secure === null ? {} : { tls: secure.certs, password: secure.postgresPassword };
    const [source, target, kafka, registry] = await settledOrThrow([
      startPostgres(instance, { name: "source", database: options.sourceDatabase ?? "source", env, log, binDir: sourceBin, ...tls }),
      startPostgres(instance, { name: "target", database: options.targetDatabase ?? "target", env, log, binDir: targetBin, ...tls }),
      startKafka(instance, { brokers, env, log, ...(secure === null ? {} : { secure: { certs: secure.certs, users: [secure.user] } }) }),
      options.registry === true ? startRegistry(instance, { env, log }) : Promise.resolve(null),
    ] as const);
    const processes = [source.process, target.process, ...kafka.nodes.map((n) => n.process), ...(registry === null ? [] : [registry.process])];
    const pids: Record<string, number> = Object.fromEntries(processes.map((p) => [p.name, p.pid]));
    let stopping = false;
    const unexpectedExit = Promise.race(
      processes.map((p) =>
        p.exited.then((how) => `${p.name} exited (${how.signal ?? `code ${String(how.code)}`}); last lines of ${p.logFile}:\n${p.logTail()}`),
      ),
    ).then((report) => (stopping ? never : report));
    return {
      source: source.url,
      target: target.url,
      kafka: kafka.secureBrokers ?? kafka.brokers,
      ...(registry === null ? {} : { registry: registry.url }),
      ...(secure === null ? {} : { security: secure.security }),
      mode,
      brokers,
      kafkaVersion: kafka.version,
      sourceVersion: source.version,
      targetVersion: target.version,
      instanceDir: instance.dir,
      pids,
      containers: [],
      unexpectedExit,
      stop: () => {
        stopping = true;
        return instance.stop({ keepFiles: env["ZEROLOSS_KEEP_DEVSTACK"] === "1" });
      },
    };
  } catch (err) {
    await instance.stop({ keepFiles: true });
    throw err;
  }
}

/**
 * An external server's version. With a major asked for, it must be that major (a test run
 * for PostgreSQL 18 must not pass against a 15); without, a server that does not answer yet
 * gives null (external mode never required it at start).
 */
async function externalVersion(side: string, url: string, asked: number | undefined): Promise<string | null> {
  if (asked === undefined) return serverVersion(url).catch(() => null);
  const version = await serverVersion(url);
  if (!version.startsWith(`${asked}.`) && version !== String(asked)) {
    throw new DevstackError("STACK_CONFIG_INVALID", `PostgreSQL ${asked} was asked for the ${side}, but the external ${side} (ZEROLOSS_${side.toUpperCase()}_URL) runs ${version}: versions are chosen in local mode only`);
  }
  return version;
}

/** A Kafka cluster alone, for tests that need a second one (3 brokers) beside the shared stack. */
export interface KafkaCluster {
  readonly mode: StackMode;
  readonly brokers: readonly string[];
  readonly kafkaVersion: string | null;
  stop(): Promise<void>;
  /** Local mode only: stop and start single brokers (outage tests). */
  readonly nodes?: Pick<KafkaHandle, "stopNode" | "startNode">;
}

export async function startKafkaCluster(options: { brokers: BrokerCount; env?: Env; log: Logger }): Promise<KafkaCluster> {
  const env = options.env ?? process.env;
  const mode = await chooseMode(env);
  if (mode === "external") {
    const brokers = (externalEndpoints(env) as StackEndpoints).kafka;
    await waitForKafka(brokers, options.brokers, { timeoutMs: 30_000 });
    return { mode, brokers, kafkaVersion: null, stop: async () => {} };
  }
  if (mode === "docker") return startDockerKafka({ brokers: options.brokers, log: options.log });
  const instance = await Instance.create({ root: runRoot(env), detached: false, log: options.log });
  try {
    const kafka = await startKafka(instance, { brokers: options.brokers, env, log: options.log });
    return {
      mode,
      brokers: kafka.brokers,
      kafkaVersion: kafka.version,
      nodes: { stopNode: kafka.stopNode, startNode: kafka.startNode },
      stop: () => instance.stop({ keepFiles: env["ZEROLOSS_KEEP_DEVSTACK"] === "1" }),
    };
  } catch (err) {
    await instance.stop({ keepFiles: true });
    throw err;
  }
}

/** The certificates and the Kafka user of a secure local stack, in the instance folder. */
async function secureParts(
  instance: Instance,
): Promise<{ certs: DevCertificates; user: { name: string; password: string }; postgresPassword: string; security: StackSecurity }> {
  const dir = await instance.subdir("tls");
  const certs = await makeDevCertificates(dir);
  const secret = async (name: string) => {
    const value = randomBytes(16).toString("hex");
    await writeFile(join(dir, name), `${value}\n`, { mode: 0o600 });
    return { value, file: join(dir, name) };
  };
  const kafka = await secret("kafka-password");
  const postgres = await secret("postgres-password");
  return {
    certs,
    user: { name: "zeroloss", password: kafka.value },
    postgresPassword: postgres.value,
    security: {
      caFile: certs.caFile,
      clientCertFile: certs.clientCertFile,
      clientKeyFile: certs.clientKeyFile,
      kafkaUser: "zeroloss",
      kafkaPasswordFile: kafka.file,
      postgresPasswordFile: postgres.file,
    },
  };
}
