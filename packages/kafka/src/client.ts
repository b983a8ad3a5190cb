// The one way zeroloss makes a kafkajs client: its log lines go to the process's pino
// logger, topic auto-creation is never relied on, and failures become ZerolossErrors whose
// code names kafkajs's error type, retriable or not as the catalog says.
import { tlsFailure, ZerolossError, type ErrorCode } from "@zeroloss/errors";
import { Kafka, logLevel, type LogEntry } from "kafkajs";
import type { Logger } from "pino";
import { saslOptions, tlsOptions, type KafkaConnection } from "./security.js";

export interface KafkaClientOptions {
  /** kafka.brokers, kafka.tls, kafka.sasl: the config's kafka section as it is. */
  readonly connection: KafkaConnection;
  readonly clientId: string;
  readonly log: Logger;
  /** kafkajs's connection and request timeouts, in ms. */
  readonly connectionTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  /** kafkajs's own retries of a failed connection or request (default 5): tools and tests that want the first failure pass 0. */
  readonly retries?: number;
}

const LEVELS: Record<number, "error" | "warn" | "info" | "debug"> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

export function createKafka(options: KafkaClientOptions): Kafka {
  const log = options.log.child({ component: "kafkajs" });
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.connection.brokers],
    ...withDefined("ssl", tlsOptions(options.connection.tls)),
    ...withDefined("sasl", saslOptions(options.connection.sasl)),
    connectionTimeout: options.connectionTimeoutMs ?? 5_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    ...(options.retries === undefined ? {} : { retry: { retries: options.retries } }),
    // kafkajs logs retriable errors (an election, a coordinator moving) at ERROR; zeroloss
    // retries and reports them itself, so they are kept at debug here.
    logLevel: logLevel.INFO,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        const pinoLevel = level === logLevel.ERROR || level === logLevel.WARN ? "debug" : (LEVELS[level] ?? "debug");
        log[pinoLevel](rest, String(message));
      },
  });
}

/** `{ [key]: value }`, or nothing when value is undefined (exactOptionalPropertyTypes). */
function withDefined<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

interface KafkaJsLikeError {
  name?: unknown;
  message?: unknown;
  type?: unknown;
  cause?: unknown;
  originalError?: unknown;
}

/**
 * kafkajs's error types (a protocol error's type, or kafkajs's own error name) that have a
 * code of their own in the catalog, which says whether each is retriable: wrong credentials
 * or ACLs, a record or config the broker refuses are not; a broker away, an election, a
 * coordinator moving are. Any other type is KAFKA_FAILED, retriable, its type in the details:
 * the caller backs off and tries again without acknowledging anything.
 */
const KAFKA_CODES: Readonly<Record<string, Extract<ErrorCode, `KAFKA_${string}`>>> = {
  SASL_AUTHENTICATION_FAILED: "KAFKA_SASL_AUTHENTICATION_FAILED",
  SASL_AUTHENTICATION_ERROR: "KAFKA_SASL_AUTHENTICATION_ERROR", // kafkajs's own error for refused credentials (no protocol type under it)
  UNSUPPORTED_SASL_MECHANISM: "KAFKA_UNSUPPORTED_SASL_MECHANISM",
  TOPIC_AUTHORIZATION_FAILED: "KAFKA_TOPIC_AUTHORIZATION_FAILED",
  GROUP_AUTHORIZATION_FAILED: "KAFKA_GROUP_AUTHORIZATION_FAILED",
  CLUSTER_AUTHORIZATION_FAILED: "KAFKA_CLUSTER_AUTHORIZATION_FAILED",
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: "KAFKA_TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
  MESSAGE_TOO_LARGE: "KAFKA_MESSAGE_TOO_LARGE",
  RECORD_LIST_TOO_LARGE: "KAFKA_RECORD_LIST_TOO_LARGE",
  INVALID_TOPIC_EXCEPTION: "KAFKA_INVALID_TOPIC_EXCEPTION",
  INVALID_REPLICATION_FACTOR: "KAFKA_INVALID_REPLICATION_FACTOR",
  INVALID_PARTITIONS: "KAFKA_INVALID_PARTITIONS",
  INVALID_CONFIG: "KAFKA_INVALID_CONFIG",
  POLICY_VIOLATION: "KAFKA_POLICY_VIOLATION",
  UNSUPPORTED_VERSION: "KAFKA_UNSUPPORTED_VERSION",
  INVALID_TRANSACTION_TIMEOUT: "KAFKA_INVALID_TRANSACTION_TIMEOUT",
  CONNECTION_ERROR: "KAFKA_CONNECTION_ERROR",
  REQUEST_TIMEOUT_ERROR: "KAFKA_REQUEST_TIMEOUT_ERROR",
  NUMBER_OF_RETRIES_EXCEEDED: "KAFKA_NUMBER_OF_RETRIES_EXCEEDED",
  REQUEST_TIMED_OUT: "KAFKA_REQUEST_TIMED_OUT",
  LEADER_NOT_AVAILABLE: "KAFKA_LEADER_NOT_AVAILABLE",
  NOT_LEADER_FOR_PARTITION: "KAFKA_NOT_LEADER_FOR_PARTITION",
  NOT_ENOUGH_REPLICAS: "KAFKA_NOT_ENOUGH_REPLICAS",
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: "KAFKA_NOT_ENOUGH_REPLICAS_AFTER_APPEND",
  UNKNOWN_TOPIC_OR_PARTITION: "KAFKA_UNKNOWN_TOPIC_OR_PARTITION",
  GROUP_COORDINATOR_NOT_AVAILABLE: "KAFKA_GROUP_COORDINATOR_NOT_AVAILABLE",
  NOT_COORDINATOR_FOR_GROUP: "KAFKA_NOT_COORDINATOR_FOR_GROUP",
  REBALANCE_IN_PROGRESS: "KAFKA_REBALANCE_IN_PROGRESS",
  CONCURRENT_TRANSACTIONS: "KAFKA_CONCURRENT_TRANSACTIONS",
};

/** The protocol error type (NOT_ENOUGH_REPLICAS, ...) under kafkajs's wrappers, or its error name. */
function rootType(err: unknown): string {
  let current: unknown = err;
  let name = "UNKNOWN";
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const e = current as KafkaJsLikeError;
    if (typeof e.type === "string") return e.type;
    if (depth === 0 && typeof e.name === "string") name = e.name.replace(/^KafkaJS/, "");
    current = e.cause ?? e.originalError;
  }
  // KafkaJSSASLAuthenticationError → SASL_AUTHENTICATION_ERROR
  return name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/([A-Z])([A-Z][a-z])/g, "$1_$2").toUpperCase();
}

/** A ZerolossError for a kafkajs failure: KAFKA_<type> when its type has a code, else KAFKA_FAILED. */
export function kafkaError(err: unknown, what: string): ZerolossError {
  if (err instanceof ZerolossError) return err;
  const tls = tlsFailure(err);
  if (tls !== null) {
    return new ZerolossError("KAFKA_TLS_FAILED", `${what}: TLS: ${tls.reason} (${tls.code}); ${tls.fix} (kafka.tls)`, { cause: err, details: { tls: tls.code } });
  }
  const type = rootType(err);
  const message = err instanceof Error ? err.message : String(err);
  const code = Object.hasOwn(KAFKA_CODES, type) ? KAFKA_CODES[type] : undefined;
  // Without a code of its own the type is in the message too: the stderr line and /healthz show code and message, not details.
  return new ZerolossError(code ?? "KAFKA_FAILED", code === undefined ? `${what}: ${message} (${type})` : `${what}: ${message}`, {
    cause: err,
    details: { kafkaError: type },
  });
}
