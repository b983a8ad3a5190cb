// Starts the shared stack once for the integration project: a source and a target
// PostgreSQL and a 1-broker Kafka (or the services named by ZEROLOSS_SOURCE_URL,
// ZEROLOSS_TARGET_URL and ZEROLOSS_KAFKA_BROKERS). Tests read it with inject("stack").
// The teardown runs after failed tests too; if the runner itself is killed, the services
// die with it (parent-death signal) and the next start sweeps what is left.
import type { TestProject } from "vitest/node";
import { startDevStack, type StackEndpoints } from "@zeroloss/devstack";
import { testLogger } from "./logger.js";

declare module "vitest" {
  export interface ProvidedContext {
    stack: StackEndpoints & { mode: string; kafkaVersion: string | null };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = testLogger("global-stack");
  const started = Date.now();
  const stack = await startDevStack({ brokers: 1, log });
  log.info({ mode: stack.mode, seconds: (Date.now() - started) / 1000 }, "shared stack ready");
  project.provide("stack", { source: stack.source, target: stack.target, kafka: [...stack.kafka], mode: stack.mode, kafkaVersion: stack.kafkaVersion });
  return async () => {
    await stack.stop();
  };
}
