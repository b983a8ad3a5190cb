// The consumer process: reads its configuration, wires logger, metrics, HTTP and the
// Consumer together, and turns signals into a clean stop. Logic lives in consumer.ts.
// Exit codes: 0 stopped cleanly, 1 failed, 2 configuration.
import { Command } from "commander";
import { loadServiceConfig } from "@zeroloss/config";
import { loadFailpoints } from "@zeroloss/failpoints";
import { createLogger, createRegistry, runServiceProcess } from "@zeroloss/observability";
import { Consumer } from "./consumer.js";
import { ConsumerMetrics } from "./metrics.js";

async function main(argv: readonly string[]): Promise<number> {
  const program = new Command("zeroloss consumer")
    .description("apply the data topics to the target, every row checksum validated by the target database")
    .option("-c, --config <file>", "zeroloss.yaml (ZEROLOSS_* variables override it)")
    .exitOverride();
  let opts: { config?: string };
  try {
    opts = program.parse([...argv]).opts();
  } catch (err) {
    return (err as { exitCode?: number }).exitCode === 0 ? 0 : 2;
  }
  const config = await loadServiceConfig("consumer", opts.config);
  if (config === null) return 2;
  const log = createLogger({ name: "consumer", level: config.log.level, pretty: process.stderr.isTTY === true });
  const registry = createRegistry("consumer");
  const metrics = new ConsumerMetrics(registry);
  const failpoints = loadFailpoints("consumer", process.env, log);
  if (failpoints === null) return 2;
  const consumer = new Consumer({ config, log, metrics, failpoints });
  return runServiceProcess({ name: "consumer", log, registry, http: config.consumer.http, service: consumer });
}

// Exit explicitly: a client library keeping a socket or timer open must not keep a stopped consumer alive.
process.exit(await main(process.argv));
