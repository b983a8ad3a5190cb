// A local Apache Kafka cluster in KRaft mode: 1 combined broker/controller by default, or 3
// (replication factor 3, min.insync.replicas=2) for durability tests. Each node runs the
// official jars on the machine's Java; ready means a kafkajs admin sees every broker.
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import type { Logger } from "pino";
import { runTool } from "./run-tool.js";
import { ensureKafkaRuntime, type KafkaRuntime } from "./kafka-runtime.js";
import { freePorts, isListening, LOOPBACK } from "./ports.js";
import { pollUntil } from "@zeroloss/errors";
import { findJava } from "./prereqs.js";
import type { DevCertificates } from "./certs.js";
import type { Instance, ManagedProcess } from "./processes.js";
import type { Env } from "./paths.js";

export type BrokerCount = 1 | 3;

export interface KafkaHandle {
  readonly version: string;
  /** `host:port` of every broker, for kafkajs and the config file. */
  readonly brokers: readonly string[];
  /** With `secure`: `host:port` of every broker's SASL_SSL listener. */
  readonly secureBrokers: readonly string[] | null;
  readonly nodes: readonly KafkaNode[];
  /** Stops one broker (SIGTERM, then SIGKILL after the grace period); for outage tests. */
  stopNode(nodeId: number): Promise<void>;
  /** Starts a stopped broker again on its ports and data, and waits until it serves. */
  startNode(nodeId: number): Promise<void>;
}

export interface KafkaNode {
  readonly nodeId: number;
  readonly brokerPort: number;
  readonly controllerPort: number;
  /** The SASL_SSL listener's port (secure clusters), else null. */
  readonly securePort: number | null;
  process: ManagedProcess;
}

export interface StartKafkaOptions {
  readonly brokers: BrokerCount;
  readonly env: Env;
  readonly log: Logger;
  readonly readyTimeoutMs?: number;
  /**
   * A SASL_SSL listener beside the plaintext one (which the brokers use among themselves and
   * the readiness check uses): TLS with the dev certificates and a client certificate the dev
   * CA signed (mutual TLS), SCRAM-SHA-256/512 and PLAIN for
   * `users` (SCRAM credentials written at format time), and OAUTHBEARER with unsigned tokens.
   */
  readonly secure?: KafkaSecureListener;
}

export interface KafkaSecureListener {
  readonly certs: DevCertificates;
  readonly users: readonly { readonly name: string; readonly password: string }[];
}

const LOG4J2 = `# Written by @zeroloss/devstack: broker logs to its stdout, which goes to the node's log file.
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.state.name = state.change.logger
logger.state.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
`;

/** The SASL_SSL listener's settings (KafkaSecureListener). */
function secureProperties(secure: KafkaSecureListener): Record<string, string> {
  const scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;";
  const plainUsers = secure.users.map((u) => `user_${u.name}="${u.password}"`).join(" ");
  return {
    // OAUTHBEARER with Kafka's unsecured validator: unsigned tokens (alg none) are taken at
    // their word. For trying a client's token plumbing locally, never for production.
    "listener.name.secure.sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN,OAUTHBEARER",
    "listener.name.secure.oauthbearer.sasl.jaas.config": "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
    "listener.name.secure.scram-sha-256.sasl.jaas.config": scram,
    "listener.name.secure.scram-sha-512.sasl.jaas.config": scram,
    "listener.name.secure.plain.sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`,
    // Mutual TLS: a client certificate the dev CA signed is required as well as SASL.
    "listener.name.secure.ssl.client.auth": "required",
    "listener.name.secure.ssl.truststore.type": "PEM",
    "listener.name.secure.ssl.truststore.location": secure.certs.caFile,
    "listener.name.secure.ssl.keystore.type": "PKCS12",
    "listener.name.secure.ssl.keystore.location": secure.certs.serverStoreFile,
    "listener.name.secure.ssl.keystore.password": secure.certs.storePassword,
    "listener.name.secure.ssl.key.password": secure.certs.storePassword,
  };
}

function serverProperties(nodeId: number, dataDir: string, ports: { broker: number; controller: number; secure: number | null }, voters: string, size: number, secure?: KafkaSecureListener): string {
  const replication = size >= 3 ? 3 : 1;
  const minIsr = size >= 3 ? 2 : 1;
  const secureListener = ports.secure === null ? "" : `,SECURE://${LOOPBACK}:${ports.secure}`;
  const props: Record<string, string | number> = {
    "process.roles": "broker,controller",
    "node.id": nodeId,
    "controller.quorum.voters": voters,
    listeners: `PLAINTEXT://${LOOPBACK}:${ports.broker},CONTROLLER://${LOOPBACK}:${ports.controller}${secureListener}`,
    "advertised.listeners": `PLAINTEXT://${LOOPBACK}:${ports.broker}${secureListener}`,
    "listener.security.protocol.map": `PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${secureListener === "" ? "" : ",SECURE:SASL_SSL"}`,
    ...(secure === undefined ? {} : secureProperties(secure)),
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "log.dirs": join(dataDir, "data"),
    // zeroloss creates every topic explicitly (DESIGN.md, Kafka layout).
    "auto.create.topics.enable": "false",
    "num.partitions": 1,
    "default.replication.factor": replication,
    "min.insync.replicas": minIsr,
    "offsets.topic.replication.factor": replication,
    "offsets.topic.num.partitions": 10,
    "transaction.state.log.replication.factor": replication,
    "transaction.state.log.min.isr": minIsr,
    "transaction.state.log.num.partitions": 10,
    "share.coordinator.state.topic.replication.factor": replication,
    "share.coordinator.state.topic.min.isr": minIsr,
    "unclean.leader.election.enable": "false",
    "group.initial.rebalance.delay.ms": 0,
  };
  return Object.entries(props).map(([k, v]) => `${k}=${v}`).join("\n") + "\n";
}

function javaArgs(runtime: KafkaRuntime, nodeDir: string, heap: string): string[] {
  return [
    `-Xms${heap}`,
    `-Xmx${heap}`,
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-Djava.awt.headless=true",
    `-Dlog4j2.configurationFile=${join(nodeDir, "log4j2.properties")}`,
    `-Dkafka.logs.dir=${nodeDir}`,
    "-cp",
    `${runtime.libs}/*`,
  ];
}

async function formatStorage(java: string, runtime: KafkaRuntime, nodeDir: string, clusterId: string, secure?: KafkaSecureListener): Promise<void> {
  const scram = (secure?.users ?? []).flatMap((u) => ["256", "512"].flatMap((bits) => ["--add-scram", `SCRAM-SHA-${bits}=[name=${u.name},password=${u.password}]`]));
  await runTool(
    java,
    [...javaArgs(runtime, nodeDir, "256m"), "kafka.tools.StorageTool", "format", "-t", clusterId, "-c", join(nodeDir, "server.properties"), ...scram],
    { what: `formatting Kafka storage in ${nodeDir}` },
  );
}

/** Polls until a kafkajs admin lists `expected` brokers. */
export async function waitForKafka(brokers: readonly string[], expected: number, options: { timeoutMs: number; abortIf?: () => void }): Promise<void> {
  const kafka = new Kafka({ clientId: "zeroloss-devstack", brokers: [...brokers], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 2000 });
  await pollUntil(
    async () => {
      const admin = kafka.admin();
      try {
        await admin.connect();
        const cluster = await admin.describeCluster();
        return cluster.brokers.length >= expected && cluster.controller !== null ? true : undefined;
      } finally {
        await admin.disconnect();
      }
    },
    { timeoutMs: options.timeoutMs, intervalMs: 500, what: `${expected} Kafka broker(s) at ${brokers.join(",")}`, ...(options.abortIf ? { abortIf: options.abortIf } : {}) },
  );
}

export async function startKafka(instance: Instance, options: StartKafkaOptions): Promise<KafkaHandle> {
  const log = options.log.child({ service: "kafka" });
  const java = findJava(options.env);
  const runtime = await ensureKafkaRuntime(options.env, log);
  const size = options.brokers;
  const perNode = options.secure === undefined ? 2 : 3;
  const ports = await freePorts(size * perNode);
  const nodes = Array.from({ length: size }, (_, i) => ({
    nodeId: i + 1,
    brokerPort: ports[i * perNode] as number,
    controllerPort: ports[i * perNode + 1] as number,
    securePort: options.secure === undefined ? null : (ports[i * perNode + 2] as number),
  }));
  const voters = nodes.map((n) => `${n.nodeId}@${LOOPBACK}:${n.controllerPort}`).join(",");
  // A KRaft cluster id is 16 random bytes, base64url without padding (22 characters).
  // One starting with '-' would be read as an option by the storage tool: draw again.
  let clusterId = randomBytes(16).toString("base64url");
  while (clusterId.startsWith("-")) clusterId = randomBytes(16).toString("base64url");

  const dirs = await Promise.all(
    nodes.map(async (n) => {
      const dir = await instance.subdir(`kafka-${n.nodeId}`);
      await writeFile(
        join(dir, "server.properties"),
        serverProperties(n.nodeId, dir, { broker: n.brokerPort, controller: n.controllerPort, secure: n.securePort }, voters, size, options.secure),
        { mode: 0o600 }, // the keystore password
      );
      await writeFile(join(dir, "log4j2.properties"), LOG4J2);
      return dir;
    }),
  );
  log.info({ version: runtime.version, brokers: size }, "formatting KRaft storage");
  await Promise.all(dirs.map((dir) => formatStorage(java, runtime, dir, clusterId, options.secure)));

  const started: KafkaNode[] = [];
  const spawnNode = (i: number, nodeId: number) => {
    const dir = dirs[i] as string;
    return instance.spawn({
      name: `kafka-${nodeId}`,
      command: java,
      args: [...javaArgs(runtime, dir, size >= 3 ? "384m" : "512m"), "kafka.Kafka", join(dir, "server.properties")],
      stopSignal: "SIGTERM",
      logFile: join(dir, "kafka.log"),
    });
  };
  for (const [i, n] of nodes.entries()) {
    started.push({ ...n, process: await spawnNode(i, n.nodeId) });
  }
  const brokers = nodes.map((n) => `${LOOPBACK}:${n.brokerPort}`);
  await waitForKafka(brokers, size, {
    timeoutMs: options.readyTimeoutMs ?? 120_000,
    abortIf: () => started.forEach((n) => n.process.assertRunning()),
  });
  log.info({ brokers, pids: started.map((n) => n.process.pid) }, "ready");
  const nodeOf = (nodeId: number) => {
    const i = started.findIndex((n) => n.nodeId === nodeId);
    if (i < 0) throw new Error(`no Kafka node ${nodeId}`);
    return { i, node: started[i] as KafkaNode };
  };
  return {
    version: runtime.version,
    brokers,
    secureBrokers: options.secure === undefined ? null : nodes.map((n) => `${LOOPBACK}:${n.securePort}`),
    nodes: started,
    stopNode: async (nodeId) => {
      await nodeOf(nodeId).node.process.stop();
    },
    startNode: async (nodeId) => {
      const { i, node } = nodeOf(nodeId);
      node.process = await spawnNode(i, nodeId);
      await pollUntil(async () => ((await isListening(node.brokerPort)) ? true : undefined), {
        timeoutMs: options.readyTimeoutMs ?? 120_000,
        what: `Kafka node ${nodeId} to listen on ${node.brokerPort} again`,
        abortIf: () => node.process.assertRunning(),
      });
    },
  };
}
