// kill -9 under load: the producer and the consumer crash at each of their failpoints (the
// commit boundaries, docs/failpoints.md) and at random moments, consumers join and leave the
// group; after each scenario the four-part proof of harness.ts must hold.
import { describe, expect, it } from "vitest";
import type { FailpointName } from "@zeroloss/failpoints";
import type { RunningProducer } from "../producer/harness.js";
import { progressed, random, scenario, seed } from "./harness.js";
import { useFaultStack } from "./stack.js";

const faultStack = useFaultStack();

/** The service was killed by its own failpoint, not by anything else. */
async function killedBy(victim: RunningProducer, failpoint: FailpointName): Promise<void> {
  await victim.exitWithin(90_000);
  expect(victim.proc.signalCode, victim.output().slice(-3000)).toBe("SIGKILL");
  expect(victim.output()).toContain(`"failpoint":"${failpoint}"`);
}

describe(`faults: kill -9 under load (seed ${seed})`, () => {
  it.each(["producer.before-kafka-commit", "producer.after-kafka-commit", "producer.after-slot-ack"] as const)(
    "the producer crashes at %s; restarted, nothing is lost or doubled",
    { timeout: 240_000 },
    async (failpoint) => {
      await scenario(
        faultStack(),
        `fp_${failpoint.split(".")[1]!.replaceAll("-", "_")}`,
        async (f) => {
          await killedBy(f.producer, failpoint);
          f.producer = await f.start();
          await progressed(f.producer, "zeroloss_producer_events_total", 200, "the restarted producer to stream 200 changes");
        },
        { producerEnv: { ZEROLOSS_FAILPOINTS: `${failpoint}=crash@30` } },
      );
    },
  );

  it.each(["consumer.before-target-commit", "consumer.after-target-commit", "consumer.after-offset-commit"] as const)(
    "the consumer crashes at %s; restarted, every change is applied once",
    { timeout: 240_000 },
    async (failpoint) => {
      await scenario(
        faultStack(),
        `fc_${failpoint.split(".")[1]!.replaceAll("-", "_")}`,
        async (f) => {
          await killedBy(f.consumers[0]!, failpoint);
          const next = await f.startConsumer();
          f.consumers.push(next);
          await progressed(next, "zeroloss_consumer_records_total", 200, "the restarted consumer to apply 200 records");
        },
        { consumerEnv: { ZEROLOSS_FAILPOINTS: `${failpoint}=crash@20` } },
      );
    },
  );

  it("the producer is killed at random moments, three times", { timeout: 240_000 }, async () => {
    await scenario(faultStack(), "rand_producer", async (f) => {
      for (let i = 0; i < 3; i++) {
        await progressed(f.producer, "zeroloss_producer_events_total", 50 + Math.floor(random() * 400), `producer run ${i + 1} to stream a random number of changes`);
        await f.producer.stop("SIGKILL");
        f.producer = await f.start();
      }
      await progressed(f.producer, "zeroloss_producer_events_total", 100, "the last producer to stream");
    });
  });

  it("consumers are killed at random moments, and join and leave the group", { timeout: 240_000 }, async () => {
    await scenario(faultStack(), "rand_consumer", async (f) => {
      let current = f.consumers[0]!;
      for (let i = 0; i < 3; i++) {
        // A second consumer joins (a rebalance), the first is killed -9 at a random moment, a third joins later.
        const joining = await f.startConsumer();
        f.consumers.push(joining);
        await progressed(current, "zeroloss_consumer_records_consumed_total", 50 + Math.floor(random() * 300), `consumer ${i + 1} to read a random number of records`);
        await current.stop("SIGKILL");
        current = joining;
      }
      const last = await f.startConsumer();
      f.consumers.push(last);
      await progressed(current, "zeroloss_consumer_records_consumed_total", 100, "the surviving consumer to apply");
      await last.stop("SIGTERM"); // a clean leave
    });
  });
});
