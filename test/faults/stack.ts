// The fault suite's own stack, always local processes (it stops, pauses and kills them):
// source and target PostgreSQL on separate servers and 3 Kafka brokers (replication factor
// 3, min.insync.replicas=2), with the handles the scenarios need to signal each one.
import { afterAll, beforeAll } from "vitest";
import { Instance, runRoot, startKafka, startPostgres, type KafkaHandle, type PostgresHandle } from "@zeroloss/devstack";
import { testLogger } from "../setup/logger.js";

export interface FaultStack {
  readonly source: string;
  readonly target: string;
  readonly kafka: readonly string[];
  readonly sourcePg: PostgresHandle;
  readonly targetPg: PostgresHandle;
  readonly cluster: KafkaHandle;
  stop(): Promise<void>;
}

export async function startFaultStack(): Promise<FaultStack> {
  const env = { ...process.env };
  const log = testLogger("fault-stack");
  const instance = await Instance.create({ root: runRoot(env), detached: false, log });
  try {
    const [sourcePg, targetPg, cluster] = await Promise.all([
      startPostgres(instance, { name: "source", database: "source", env, log }),
      startPostgres(instance, { name: "target", database: "target", env, log }),
      startKafka(instance, { brokers: 3, env, log }),
    ]);
    return { source: sourcePg.url, target: targetPg.url, kafka: cluster.brokers, sourcePg, targetPg, cluster, stop: () => instance.stop() };
  } catch (err) {
    await instance.stop();
    throw err;
  }
}

/** SIGSTOP / SIGCONT to a process (a paused broker keeps its sockets open and answers nothing). */
export function signal(pid: number, sig: "SIGSTOP" | "SIGCONT" | "SIGKILL"): void {
  process.kill(pid, sig);
}

/**
 * How long the outages last: 15 s in the suite; `npm run bench:faults` runs the same
 * scenarios with 60 s (ZEROLOSS_FAULT_OUTAGE_S).
 */
export const OUTAGE_MS = outageMs(process.env["ZEROLOSS_FAULT_OUTAGE_S"]);

function outageMs(seconds: string | undefined): number {
  if (seconds === undefined || seconds === "") return 15_000;
  const n = Number(seconds);
  if (!Number.isInteger(n) || n < 1 || n > 600) throw new Error(`ZEROLOSS_FAULT_OUTAGE_S=${seconds}: want whole seconds from 1 to 600`);
  return n * 1000;
}

/** A fault stack for the calling test file: started before its tests, stopped after them. */
export function useFaultStack(): () => FaultStack {
  let stack: FaultStack | undefined;
  beforeAll(async () => {
    stack = await startFaultStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });
  return () => {
    if (stack === undefined) throw new Error("the fault stack is not started (useFaultStack() must run at the top of a test file)");
    return stack;
  };
}
