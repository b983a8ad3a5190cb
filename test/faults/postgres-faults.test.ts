// PostgreSQL misbehaving under load: the source crashes (immediate shutdown: no checkpoint,
// crash recovery at restart, the slot may move back) and the target goes away for a while.
// After each, with the server back, the four-part proof of harness.ts must hold: duplicates
// from a slot that moved back are absorbed, nothing is missing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pollUntil } from "@zeroloss/devstack";
import { holdFault, progressed, scenario, seed } from "./harness.js";
import { startFaultStack, type FaultStack } from "./stack.js";

const EVENTS = "zeroloss_producer_events_total";
const APPLIED = "zeroloss_consumer_records_total";
/** How long the outages last in the suite; bench/ runs the long variants. */
const OUTAGE_MS = 15_000;

let stack: FaultStack;

beforeAll(async () => {
  stack = await startFaultStack();
});

afterAll(async () => {
  await stack?.stop();
});

describe(`faults: PostgreSQL (seed ${seed})`, () => {
  it("the source crashes (immediate shutdown) and restarts", { timeout: 240_000 }, async () => {
    await scenario(
      stack,
      "src_crash",
      async (f, load) => {
        await progressed(f.producer, EVENTS, 300, "the producer to stream under load");
        await stack.sourcePg.stop("immediate");
        await stack.sourcePg.start();
        await f.sourceBack();
        const committed = load.committed();
        await pollUntil(async () => (load.committed() >= committed + 100 ? true : undefined), { timeoutMs: 60_000, what: "the workload to commit again on the restarted source" });
        const after = (await f.producer.metric(EVENTS)) ?? 0;
        await progressed(f.producer, EVENTS, after + 300, "the producer to stream again from the restarted source");
      },
      {},
      { tolerateOutage: true },
    );
  });

  it(`the target is down for ${OUTAGE_MS / 1000} s (fast shutdown), then back`, { timeout: 240_000 }, async () => {
    await scenario(stack, "tgt_down", async (f, load) => {
      const consumer = f.consumers[0]!;
      await progressed(consumer, APPLIED, 300, "the consumer to apply under load");
      await stack.targetPg.stop("fast");
      const committed = load.committed();
      try {
        await holdFault(OUTAGE_MS);
      } finally {
        await stack.targetPg.start();
      }
      expect(load.committed(), "the source kept taking writes while the target was down").toBeGreaterThan(committed);
      const applied = (await consumer.metric(APPLIED)) ?? 0;
      await progressed(consumer, APPLIED, applied + 300, "the consumer to apply again with the target back");
    });
  });
});
