// The producer process: reads its configuration, wires logger, metrics, HTTP and the
// Producer together, and turns signals into a clean stop. Logic lives in producer.ts.
// Exit codes: 0 stopped cleanly (or initial_only finished), 1 failed, 2 configuration.
import { Command } from "commander";
import { loadServiceConfig } from "@zeroloss/config";
import { loadFailpoints } from "@zeroloss/failpoints";
import { createLogger, createRegistry, runServiceProcess } from "@zeroloss/observability";
import { ProducerMetrics } from "./metrics.js";
import { Producer } from "./producer.js";

async function main(argv: readonly string[]): Promise<number> {
  const program = new Command("zeroloss producer")
    .description("stream changes of the source's published tables into Kafka")
    .option("-c, --config <file>", "zeroloss.yaml (ZEROLOSS_* variables override it)")
    .option("--resnapshot", "drop the slot and snapshot every table again (after a lost slot)", false)
    .option("--accept-slot-gap", "a slot ahead of the checkpoint (SLOT_AHEAD_OF_CHECKPOINT): give up the changes in between and stream on from the slot", false)
    .exitOverride();
  let opts: { config?: string; resnapshot: boolean; acceptSlotGap: boolean };
  try {
    opts = program.parse([...argv]).opts();
  } catch (err) {
    return (err as { exitCode?: number }).exitCode === 0 ? 0 : 2;
  }
  const config = await loadServiceConfig("producer", opts.config);
  if (config === null) return 2;
  const log = createLogger({ name: "producer", level: config.log.level, pretty: process.stderr.isTTY === true });
  const registry = createRegistry("producer");
  const metrics = new ProducerMetrics(registry);
  const failpoints = loadFailpoints("producer", process.env, log);
  if (failpoints === null) return 2;
  const producer = new Producer({ config, log, metrics, resnapshot: opts.resnapshot, acceptSlotGap: opts.acceptSlotGap, failpoints });
  return runServiceProcess({ name: "producer", log, registry, http: config.producer.http, service: producer });
}

// Exit explicitly: a client library keeping a socket or timer open must not keep a stopped producer alive.
process.exit(await main(process.argv));
