// The life of a service process after its configuration is read: serve /metrics and
// /healthz, run the service until it returns or fails, and turn signals into a clean stop.
// Every service shares it, so their exit codes and signal handling agree.
import { describeError, isZerolossError, redact } from "@zeroloss/errors";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { startHttpServer, type Health, type Route } from "./http.js";

export interface RunnableService {
  run(): Promise<void>;
  stop(): Promise<void>;
  health(): Health;
}

export interface ServiceProcessOptions {
  /** `producer`, `consumer`: names the service in stderr lines. */
  readonly name: string;
  readonly log: Logger;
  readonly registry: Registry;
  readonly http: { readonly host: string; readonly port: number; readonly tokenFile?: string | undefined };
  readonly service: RunnableService;
  /** Routes beyond /metrics and /healthz (the counter's API and dashboard). */
  readonly routes?: readonly Route[];
}

/** Resolves with the exit code: 0 stopped cleanly, 1 failed. */
export async function runServiceProcess(o: ServiceProcessOptions): Promise<number> {
  const { log, service } = o;
  const http = await startHttpServer({ ...o.http, registry: o.registry, health: () => service.health(), log, ...(o.routes === undefined ? {} : { routes: o.routes }) });
  // The first signal stops cleanly (the service finishes or rolls back what it has in
  // hand); a second one at least 2 s later forces the exit. Closer repeats are the same
  // Ctrl-C arriving twice (directly and through the `zeroloss` CLI).
  let firstSignalAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstSignalAt > 0) {
      if (Date.now() - firstSignalAt >= 2_000) process.exit(1);
      return;
    }
    firstSignalAt = Date.now();
    log.info({ signal }, "stopping");
    void service.stop();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await service.run();
    return 0;
  } catch (err) {
    // ZerolossErrors already carry their cause's text; the log line keeps the whole chain.
    const code = isZerolossError(err) ? err.code : "UNEXPECTED";
    log.fatal({ code, err: describeError(err) }, `${o.name} stopped`);
    if (process.stderr.isTTY !== true || log.levelVal > 60) {
      process.stderr.write(redact(`zeroloss ${o.name}: error [${code}]: ${isZerolossError(err) ? err.message : describeError(err)}\n`));
    }
    return 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await http.close();
  }
}
