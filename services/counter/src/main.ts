// The counter process: reads its configuration, wires logger, metrics, the HTTP API and
// dashboard, and the Counter together, and turns signals into a clean stop. Logic lives in
// counter.ts (Kafka → ledger), ledger.ts (the ledger written), window-states.ts, transaction-states.ts and summary.ts (the ledger read), api.ts (HTTP).
// Exit codes: 0 stopped cleanly, 1 failed, 2 configuration.
import { runServiceProcess, setUpService } from "@zeroloss/observability";
import { apiRoutes } from "./api.js";
import { Counter } from "./counter.js";
import { CounterMetrics } from "./metrics.js";

async function main(argv: readonly string[]): Promise<number> {
  const s = await setUpService(argv, process.env, {
    name: "counter",
    description: "count every record at every stage per offset window, and show whether they balance",
  });
  if (typeof s === "number") return s;
  const { config, log, registry } = s;
  const counter = new Counter({ config, log, metrics: new CounterMetrics(registry) });
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
