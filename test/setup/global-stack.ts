// Starts the shared stack once for the integration project: a source and a target
// PostgreSQL, a 1-broker Kafka and a schema registry (or the services named by
// ZEROLOSS_SOURCE_URL, ZEROLOSS_TARGET_URL, ZEROLOSS_KAFKA_BROKERS and ZEROLOSS_REGISTRY_URL).
// Tests read it with inject("stack").
// ZEROLOSS_TEST_PG (both sides), or ZEROLOSS_TEST_SOURCE_PG / ZEROLOSS_TEST_TARGET_PG, choose
// each side's PostgreSQL major: 15 (the machine's, the default), 16, 17 or 18 (downloaded
// from Maven Central on first use; local mode, checked against the servers in external mode).
// The teardown runs after failed tests too; if the runner itself is killed, the services
// die with it (parent-death signal) and the next start sweeps what is left.
import type { TestProject } from "vitest/node";
import { parsePostgresMajor, startDevStack, type StackEndpoints } from "@zeroloss/devstack";
import { testLogger } from "./logger.js";

declare module "vitest" {
  export interface ProvidedContext {
    stack: StackEndpoints & { mode: string; kafkaVersion: string | null; registry: string; sourceVersion: string | null; targetVersion: string | null };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = testLogger("global-stack");
  const started = Date.now();
  const versions = testPostgresMajors(process.env);
  const stack = await startDevStack({ brokers: 1, log, registry: true, ...versions });
  if (stack.registry === undefined) throw new Error("the shared stack started without the schema registry it was asked for");
  log.info({ mode: stack.mode, seconds: (Date.now() - started) / 1000 }, "shared stack ready");
  // Once per run, on the console whatever the log level: which servers the results are for.
  console.log(`shared stack: source PostgreSQL ${stack.sourceVersion ?? "?"}, target PostgreSQL ${stack.targetVersion ?? "?"}, Apache Kafka ${stack.kafkaVersion ?? "(external)"} (${stack.mode})`);
  project.provide("stack", {
    source: stack.source,
    target: stack.target,
    kafka: [...stack.kafka],
    registry: stack.registry,
    mode: stack.mode,
    kafkaVersion: stack.kafkaVersion,
    sourceVersion: stack.sourceVersion,
    targetVersion: stack.targetVersion,
  });
  return async () => {
    await stack.stop();
  };
}

/** Each side's major from ZEROLOSS_TEST_PG, overridden per side by ZEROLOSS_TEST_SOURCE_PG / ZEROLOSS_TEST_TARGET_PG; unset: the machine's. */
export function testPostgresMajors(env: NodeJS.ProcessEnv): { sourcePg?: number; targetPg?: number } {
  const pick = (side: string) => {
    const name = env[`ZEROLOSS_TEST_${side}_PG`] ? `ZEROLOSS_TEST_${side}_PG` : "ZEROLOSS_TEST_PG";
    const value = env[name] ?? "";
    return value === "" ? undefined : parsePostgresMajor(value, name);
  };
  const sourcePg = pick("SOURCE");
  const targetPg = pick("TARGET");
  return { ...(sourcePg === undefined ? {} : { sourcePg }), ...(targetPg === undefined ? {} : { targetPg }) };
}
