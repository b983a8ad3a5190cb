// The counter process: reads its configuration, wires logger, metrics, the HTTP API and
// dashboard, and the Counter together, and turns signals into a clean stop. Logic lives in
// counter.ts (Kafka → ledger), ledger.ts (the ledger written), window-states.ts, transaction-states.ts and summary.ts (the ledger read), api.ts (HTTP).
// Exit codes: 0 stopped cleanly, 1 failed, 2 configuration.
import { Command } from "commander";
import { loadServiceConfig } from "@zeroloss/config";
import { createLogger, createRegistry, runServiceProcess } from "@zeroloss/observability";
import { apiRoutes } from "./api.js";
import { Counter } from "./counter.js";
import { CounterMetrics } from "./metrics.js";

async function main(argv: readonly string[]): Promise<number> {
  const program = new Command("zeroloss counter")
    .description("count every record at every stage per offset window, and show whether they balance")
    .option("-c, --config <file>", "zeroloss.yaml (ZEROLOSS_* variables override it)")
    .exitOverride();
  let opts: { config?: string };
  try {
    opts = program.parse([...argv]).opts();
  } catch (err) {
    return (err as { exitCode?: number }).exitCode === 0 ? 0 : 2;
  }
  const config = await loadServiceConfig("counter", opts.config);
  if (config === null) return 2;
  const log = createLogger({ name: "counter", level: config.log.level, pretty: process.stderr.isTTY === true });
  const registry = createRegistry("counter");
  const metrics = new CounterMetrics(registry);
  const counter = new Counter({ config, log, metrics });
  return runServiceProcess({
    name: "counter",
    log,
    registry,
    http: config.counter.http,
    service: counter,
    routes: apiRoutes({ graceSeconds: config.counter.graceSeconds, slot: () => counter.slotState, db: () => counter.readConnection(), readFailed: () => counter.readFailed() }),
  });
}

// Exit explicitly: a client library keeping a socket or timer open must not keep a stopped counter alive.
process.exit(await main(process.argv));
