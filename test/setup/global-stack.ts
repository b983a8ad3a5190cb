// Starts the shared stack once for the integration project: a source and a target
// PostgreSQL, a 1-broker Kafka and a schema registry (or the services named by
// ZEROLOSS_SOURCE_URL, ZEROLOSS_TARGET_URL, ZEROLOSS_KAFKA_BROKERS and ZEROLOSS_REGISTRY_URL).
// Tests read it with inject("stack").
// The teardown runs after failed tests too; if the runner itself is killed, the services
// die with it (parent-death signal) and the next start sweeps what is left.
import type { TestProject } from "vitest/node";
import { startDevStack, type StackEndpoints } from "@zeroloss/devstack";
import { testLogger } from "./logger.js";

declare module "vitest" {
  export interface ProvidedContext {
    stack: StackEndpoints & { mode: string; kafkaVersion: string | null; registry: string };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = testLogger("global-stack");
  const started = Date.now();
  const stack = await startDevStack({ brokers: 1, log, registry: true });
  if (stack.registry === undefined) throw new Error("the shared stack started without the schema registry it was asked for");
  log.info({ mode: stack.mode, seconds: (Date.now() - started) / 1000 }, "shared stack ready");
  project.provide("stack", { source: stack.source, target: stack.target, kafka: [...stack.kafka], registry: stack.registry, mode: stack.mode, kafkaVersion: stack.kafkaVersion });
  return async () => {
    await stack.stop();
  };
}
