export { startDevStack, startKafkaCluster, chooseMode, type KafkaCluster, type DevStack, type StackEndpoints, type StackMode, type StackSecurity, type StartStackOptions } from "./stack.js";
export { readDetachedState, writeDetachedState, detachedStatus, stopDetached, type DetachedState, type DetachedStatus } from "./detached.js";
export { DevstackError, type DevstackErrorCode } from "./errors.js";
export { KAFKA_VERSION, ensureKafkaRuntime, kafkaRuntimeCached, kafkaRuntimeLibs } from "./kafka-runtime.js";
export { KAFKA_TOOLS, kafkaToolList, needsBootstrap, prepareKafkaTool, type KafkaTool, type KafkaToolTarget, type PreparedKafkaTool } from "./kafka-tools.js";
export { waitForKafka, type BrokerCount } from "./kafka.js";
export { isListening, freePort } from "./ports.js";
export { isAlive, sweepOrphans } from "./processes.js";
export { pollUntil, type PollOptions } from "@zeroloss/errors";
export { cacheDir, runRoot } from "./paths.js";
export { findPostgresBinDir } from "./prereqs.js";
export { createTestDatabase, urlAsRole, type TestDatabase } from "./test-database.js";
export { Instance, type ManagedProcess } from "./processes.js";
export { startPostgres, serverVersion, type PostgresHandle } from "./postgres.js";
export {
  ensurePostgresBinaries,
  parsePostgresMajor,
  postgresRelease,
  postgresBinariesUrl,
  postgresBinariesDir,
  postgresVersion,
  checkSha1,
  POSTGRES_MAJORS,
  POSTGRES_RELEASES,
  SYSTEM_POSTGRES_MAJOR,
  MAVEN_CENTRAL,
  type PostgresMajor,
} from "./postgres-binaries.js";
export { startKafka, type KafkaHandle } from "./kafka.js";
export { REGISTRY_VERSION, ensureRegistryRuntime, startRegistry, type RegistryHandle } from "./registry.js";
export { makeDevCertificates, type DevCertificates } from "./certs.js";
