// The producer process: reads its configuration, wires logger, metrics, HTTP and the
// Producer together, and turns signals into a clean stop. Logic lives in producer.ts.
// Exit codes: 0 stopped cleanly (or initial_only finished), 1 failed, 2 configuration.
import { runServiceProcess, setUpService } from "@zeroloss/observability";
import { ProducerMetrics } from "./metrics.js";
import { Producer } from "./producer.js";

async function main(argv: readonly string[]): Promise<number> {
  const s = await setUpService<{ resnapshot: boolean; acceptSlotGap: boolean }>(argv, process.env, {
    name: "producer",
    description: "stream changes of the source's published tables into Kafka",
    options: (c) =>
      c
        .option("--resnapshot", "drop the slot and snapshot every table again (after a lost slot)", false)
        .option("--accept-slot-gap", "a slot ahead of the checkpoint (SLOT_AHEAD_OF_CHECKPOINT): give up the changes in between and stream on from the slot", false),
  });
  if (typeof s === "number") return s;
  const { config, log, registry, failpoints, opts } = s;
  const producer = new Producer({ config, log, metrics: new ProducerMetrics(registry), resnapshot: opts.resnapshot, acceptSlotGap: opts.acceptSlotGap, failpoints });
  return runServiceProcess({ name: "producer", log, registry, http: config.producer.http, service: producer });
}

// Exit explicitly: a client library keeping a socket or timer open must not keep a stopped producer alive.
process.exit(await main(process.argv));
