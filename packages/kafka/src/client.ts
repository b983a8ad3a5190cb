// The one way zeroloss makes a kafkajs client: its log lines go to the process's pino
// logger, topic auto-creation is never relied on, and failures become ZerolossErrors that
// keep kafkajs's own verdict on whether a retry can help.
import { ZerolossError } from "@zeroloss/errors";
import { Kafka, logLevel, type LogEntry } from "kafkajs";
import type { Logger } from "pino";

export interface KafkaClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly log: Logger;
  /** kafkajs's connection and request timeouts, in ms. */
  readonly connectionTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
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
    brokers: [...options.brokers],
    connectionTimeout: options.connectionTimeoutMs ?? 5_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
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

interface KafkaJsLikeError {
  name?: unknown;
  message?: unknown;
  retriable?: unknown;
  type?: unknown;
}

/** A ZerolossError for a kafkajs failure; `retriable` follows kafkajs (and network errors). */
export function kafkaError(err: unknown, what: string): ZerolossError {
  if (err instanceof ZerolossError) return err;
  const e = (err ?? {}) as KafkaJsLikeError;
  const type = typeof e.type === "string" ? e.type : typeof e.name === "string" ? e.name : "UNKNOWN";
  const message = typeof e.message === "string" ? e.message : String(err);
  const retriable =
    e.retriable === true ||
    /KafkaJSConnectionError|KafkaJSNumberOfRetriesExceeded|KafkaJSRequestTimeoutError|KafkaJSBrokerNotFound|KafkaJSLockTimeout|KafkaJSConnectionClosedError/.test(
      String(e.name),
    ) ||
    /NOT_ENOUGH_REPLICAS|LEADER_NOT_AVAILABLE|NOT_LEADER|REQUEST_TIMED_OUT|NETWORK_EXCEPTION|COORDINATOR|CONCURRENT_TRANSACTIONS/.test(type);
  return new ZerolossError(`KAFKA_${type.replace(/^KafkaJS/, "").replace(/[^A-Za-z0-9]+/g, "_").toUpperCase()}`, `${what}: ${message}`, {
    retriable,
    cause: err,
    details: { kafkaError: type },
  });
}
