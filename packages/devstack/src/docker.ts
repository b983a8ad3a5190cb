// The dev stack on a Docker engine, through testcontainers: used instead of local processes
// where an engine answers. Images are pinned to the versions the local stack runs.
// Not exercised on machines without an engine (the project's CI has none): the local mode
// is what the test suite proves.
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import type { Logger } from "pino";
import type { BrokerCount } from "./kafka.js";
import { waitForKafka } from "./kafka.js";
import { KAFKA_VERSION } from "./kafka-runtime.js";
import { freePorts } from "./ports.js";
import { DEV_PG_PASSWORD, DEV_PG_USER, postgresUrl } from "./postgres.js";
import { CONFLUENT_API_PATH, REGISTRY_VERSION } from "./registry.js";
import type { DevStack, KafkaCluster } from "./stack.js";
import type { Env } from "./paths.js";

export const POSTGRES_IMAGE = "postgres:17";
export const KAFKA_IMAGE = `apache/kafka:${KAFKA_VERSION}`;
/** The same registry the local mode runs from Maven Central (registry.ts), as its published image. */
export const REGISTRY_IMAGE = `apicurio/apicurio-registry:${REGISTRY_VERSION}`;

function socketPath(env: Env): string | undefined {
  const host = env["DOCKER_HOST"];
  if (host === undefined || host === "") return "/var/run/docker.sock";
  return host.startsWith("unix://") ? host.slice("unix://".length) : undefined;
}

/** True when a Docker engine answers /_ping within a second. */
export async function dockerAnswers(env: Env): Promise<boolean> {
  const path = socketPath(env);
  if (path === undefined) return env["DOCKER_HOST"] !== undefined; // tcp:// engines: let testcontainers try
  return new Promise((resolve) => {
    const req = request({ socketPath: path, path: "/_ping", method: "GET", timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once("timeout", () => req.destroy());
    req.once("error", () => resolve(false));
    req.end();
  });
}

type Testcontainers = typeof import("testcontainers");
type StartedNetwork = Awaited<ReturnType<InstanceType<Testcontainers["Network"]>["start"]>>;

async function kafkaContainers(tc: Testcontainers, network: StartedNetwork, size: BrokerCount) {
  // Each broker listens on the same port inside and outside its container, so the address
  // it advertises (127.0.0.1:port) works from the host; brokers talk to each other and to
  // the controllers over the container network.
  const hostPorts = await freePorts(size);
  const voters = hostPorts.map((_, i) => `${i + 1}@kafka-${i + 1}:9093`).join(",");
  const clusterId = randomBytes(16).toString("base64url");
  const replication = String(size >= 3 ? 3 : 1);
  const minIsr = String(size >= 3 ? 2 : 1);
  const kafkaNode = (i: number) => {
    const port = hostPorts[i] as number;
    return new tc.GenericContainer(KAFKA_IMAGE)
      .withNetwork(network)
      .withNetworkAliases(`kafka-${i + 1}`)
      .withExposedPorts({ container: port, host: port })
      .withEnvironment({
        CLUSTER_ID: clusterId,
        KAFKA_NODE_ID: String(i + 1),
        KAFKA_PROCESS_ROLES: "broker,controller",
        KAFKA_CONTROLLER_QUORUM_VOTERS: voters,
        KAFKA_LISTENERS: `EXTERNAL://0.0.0.0:${port},INTERNAL://0.0.0.0:19092,CONTROLLER://0.0.0.0:9093`,
        KAFKA_ADVERTISED_LISTENERS: `EXTERNAL://127.0.0.1:${port},INTERNAL://kafka-${i + 1}:19092`,
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: "EXTERNAL:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
        KAFKA_CONTROLLER_LISTENER_NAMES: "CONTROLLER",
        KAFKA_INTER_BROKER_LISTENER_NAME: "INTERNAL",
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: "false",
        KAFKA_DEFAULT_REPLICATION_FACTOR: replication,
        KAFKA_MIN_INSYNC_REPLICAS: minIsr,
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: replication,
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: replication,
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: minIsr,
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: "0",
      })
      .withStartupTimeout(180_000)
      .start();
  };

  const containers = await Promise.all(hostPorts.map((_, i) => kafkaNode(i)));
  const brokers = hostPorts.map((p) => `127.0.0.1:${p}`);
  await waitForKafka(brokers, size, { timeoutMs: 120_000 });
  return { containers, brokers };
}

/** Kafka alone on Docker, for tests that want a second (3-broker) cluster. */
export async function startDockerKafka(options: { brokers: BrokerCount; log: Logger }): Promise<KafkaCluster> {
  const tc = await import("testcontainers");
  const network = await new tc.Network().start();
  options.log.info({ kafka: KAFKA_IMAGE, brokers: options.brokers }, "starting containers");
  const kafka = await kafkaContainers(tc, network, options.brokers);
  return {
    mode: "docker",
    brokers: kafka.brokers,
    kafkaVersion: KAFKA_VERSION,
    stop: async () => {
      await Promise.all(kafka.containers.map((c) => c.stop({ remove: true, removeVolumes: true })));
      await network.stop();
    },
  };
}

export interface StartDockerOptions {
  readonly brokers: BrokerCount;
  readonly detached: boolean;
  readonly log: Logger;
  readonly sourceDatabase: string;
  readonly targetDatabase: string;
  /** Start the schema registry too. */
  readonly registry: boolean;
}

/** The versions are read by stack.ts (the image is fixed: a version asked for is refused there). */
export async function startDockerStack(options: StartDockerOptions): Promise<Omit<DevStack, "sourceVersion" | "targetVersion">> {
  // A detached stack must outlive this process; testcontainers' reaper would remove it.
  if (options.detached) process.env["TESTCONTAINERS_RYUK_DISABLED"] = "true";
  const tc = await import("testcontainers");
  const log = options.log.child({ mode: "docker" });
  const network = await new tc.Network().start();

  const postgres = (name: string, database: string) =>
    new tc.GenericContainer(POSTGRES_IMAGE)
      .withNetwork(network)
      .withNetworkAliases(name)
      .withEnvironment({ POSTGRES_USER: DEV_PG_USER, POSTGRES_PASSWORD: DEV_PG_PASSWORD, POSTGRES_DB: database })
      .withCommand(["postgres", "-c", "wal_level=logical", "-c", "max_replication_slots=32", "-c", "max_wal_senders=32", "-c", "max_connections=200"])
      .withExposedPorts(5432)
      .withWaitStrategy(tc.Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .withStartupTimeout(120_000)
      .start();

  log.info({ postgres: POSTGRES_IMAGE, kafka: KAFKA_IMAGE, brokers: options.brokers }, "starting containers");
  const [source, target, kafka, registry] = await Promise.all([
    postgres("source", options.sourceDatabase),
    postgres("target", options.targetDatabase),
    kafkaContainers(tc, network, options.brokers),
    options.registry
      ? new tc.GenericContainer(REGISTRY_IMAGE)
          .withNetwork(network)
          .withExposedPorts(8080)
          .withWaitStrategy(tc.Wait.forHttp(`${CONFLUENT_API_PATH}/subjects`, 8080).forStatusCode(200))
          .withStartupTimeout(180_000)
          .start()
      : Promise.resolve(null),
  ]);
  const brokers = kafka.brokers;
  const containers = [source, target, ...kafka.containers, ...(registry === null ? [] : [registry])];
  return {
    source: postgresUrl(source.getMappedPort(5432), options.sourceDatabase, source.getHost()),
    target: postgresUrl(target.getMappedPort(5432), options.targetDatabase, target.getHost()),
    kafka: brokers,
    ...(registry === null ? {} : { registry: `http://${registry.getHost()}:${registry.getMappedPort(8080)}${CONFLUENT_API_PATH}` }),
    mode: "docker",
    brokers: options.brokers,
    kafkaVersion: KAFKA_VERSION,
    instanceDir: null,
    pids: {},
    containers: containers.map((c) => c.getId()),
    unexpectedExit: new Promise<string>(() => {}),
    stop: async () => {
      await Promise.all(containers.map((c) => c.stop({ remove: true, removeVolumes: true })));
      await network.stop();
    },
  };
}

/** Removes containers of a detached docker stack by id (`zeroloss dev down`). */
export async function removeContainers(ids: readonly string[]): Promise<void> {
  const tc = await import("testcontainers");
  const client = await tc.getContainerRuntimeClient();
  await Promise.all(ids.map((id) => client.container.remove(client.container.getById(id), { removeVolumes: true })));
}
