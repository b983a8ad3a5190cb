// The consumer process: reads its configuration, wires logger, metrics, HTTP and the
// Consumer together, and turns signals into a clean stop. Logic lives in consumer.ts.
// Exit codes: 0 stopped cleanly, 1 failed, 2 configuration.
import { Command } from "commander";
import { loadConfig } from "@zeroloss/config";
import { describeError, isZerolossError } from "@zeroloss/errors";
import { createLogger, createRegistry, startHttpServer } from "@zeroloss/observability";
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
  let config;
  try {
    config = await loadConfig({ ...(opts.config === undefined ? {} : { file: opts.config }), env: process.env });
  } catch (err) {
    const code = isZerolossError(err) ? err.code : "CONFIG_INVALID";
    process.stderr.write(`zeroloss consumer: error [${code}]: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const log = createLogger({ name: "consumer", level: config.log.level, pretty: process.stderr.isTTY === true });
  const registry = createRegistry("consumer");
  const metrics = new ConsumerMetrics(registry);
  // Fault injection for the crash tests, switched on only by this explicit variable.
  const failpoint = process.env["ZEROLOSS_FAILPOINT"];
  if (failpoint !== undefined && failpoint !== "consumer.after-target-commit") {
    process.stderr.write(`zeroloss consumer: error [CONFIG_INVALID]: ZEROLOSS_FAILPOINT=${failpoint} is not a consumer failpoint (consumer.after-target-commit)\n`);
    return 2;
  }
  if (failpoint !== undefined) log.warn({ failpoint }, "failpoint armed: this process kills itself after its first target commit");
  const consumer = new Consumer({ config, log, metrics, ...(failpoint === undefined ? {} : { failpoint: "after-target-commit" as const }) });
  const http = await startHttpServer({ ...config.consumer.http, registry, health: () => consumer.health(), log });
  // The first signal stops cleanly (the batch in the target finishes or rolls back; nothing
  // is committed in Kafka past the target); a second one at least 2 s later forces the exit.
  let firstSignalAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstSignalAt > 0) {
      if (Date.now() - firstSignalAt >= 2_000) process.exit(1);
      return;
    }
    firstSignalAt = Date.now();
    log.info({ signal }, "stopping");
    void consumer.stop();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await consumer.run();
    return 0;
  } catch (err) {
    const code = isZerolossError(err) ? err.code : "UNEXPECTED";
    log.fatal({ code, err: describeError(err) }, "consumer stopped");
    if (process.stderr.isTTY !== true || log.levelVal > 60) {
      process.stderr.write(`zeroloss consumer: error [${code}]: ${isZerolossError(err) ? err.message : describeError(err)}\n`);
    }
    return 1;
  } finally {
    await http.close();
  }
}

// Exit explicitly: a client library keeping a socket or timer open must not keep a stopped consumer alive.
process.exit(await main(process.argv));
