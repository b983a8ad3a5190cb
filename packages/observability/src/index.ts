// Logging for every zeroloss process: one pino logger made at the top of main and passed
// down, with child loggers per component. Nothing below main creates its own.
import { redact } from "@zeroloss/errors";
import { pino, type Logger, type LevelWithSilent } from "pino";
import pretty from "pino-pretty";

export type { Logger } from "pino";

export interface LoggerOptions {
  readonly name: string;
  readonly level?: LevelWithSilent;
  /** Human-readable lines on stderr (a terminal); otherwise JSON lines on stderr. */
  readonly pretty?: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  // Every line passes redact(): a secret that reached a log field (a URL, an error's text) is not written.
  const base = { name: options.name, level: options.level ?? "info", hooks: { streamWrite: redact } };
  if (options.pretty === true) {
    const stream = pretty({
      destination: 2,
      sync: true,
      colorize: process.stderr.isTTY === true,
      ignore: "pid,hostname",
      singleLine: true,
      translateTime: "HH:MM:ss.l",
    });
    return pino(base, stream);
  }
  return pino(base, pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything; for tests and library callers that want quiet. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
export * from "./http.js";
export * from "./service.js";
export * from "./scrape.js";
export * from "./service-setup.js";
export * from "./error-record.js";
