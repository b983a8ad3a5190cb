// The consumer process: reads its configuration, wires logger, metrics, HTTP and the
// Consumer together, and turns signals into a clean stop. Logic lives in consumer.ts.
// Exit codes: 0 stopped cleanly, 1 failed, 2 configuration.
import { runServiceProcess, setUpService } from "@zeroloss/observability";
import { Consumer } from "./consumer.js";
import { ConsumerMetrics } from "./metrics.js";

async function main(argv: readonly string[]): Promise<number> {
  const s = await setUpService(argv, process.env, {
    name: "consumer",
    description: "apply the data topics to the target, every row checksum validated by the target database",
  });
  if (typeof s === "number") return s;
  const { config, log, registry, failpoints } = s;
  const consumer = new Consumer({ config, log, metrics: new ConsumerMetrics(registry), failpoints });
  return runServiceProcess({ name: "consumer", log, registry, http: config.consumer.http, service: consumer });
}

// Exit explicitly: a client library keeping a socket or timer open must not keep a stopped consumer alive.
process.exit(await main(process.argv));
