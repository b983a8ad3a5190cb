// Test logs: warnings and errors only, unless ZEROLOSS_TEST_LOG_LEVEL says otherwise.
import { createLogger, type Logger } from "@zeroloss/observability";

export function testLogger(name: string): Logger {
  const level = (process.env["ZEROLOSS_TEST_LOG_LEVEL"] ?? "warn") as "warn";
  return createLogger({ name, level, pretty: true });
}
