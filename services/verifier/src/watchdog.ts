// `zeroloss verify --continuous`: after cutover, verify on a schedule
// (verify.intervalSeconds) and keep the last report on /api/last and in the metrics.
// A failed pass is counted and retried at the next interval; it does not stop the watchdog.
import type { ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Config } from "@zeroloss/config";
import { Sleeper, describeError, isZerolossError } from "@zeroloss/errors";
import type { Health, Route, RunnableService } from "@zeroloss/observability";
import { openSides } from "./sides.js";
import type { VerifierMetrics } from "./metrics.js";
import type { VerifyReport } from "@zeroloss/wire";
import { verifyOnce } from "./verify.js";

export class Watchdog implements RunnableService {
  private stopping = false;
  private readonly sleeper = new Sleeper();
  private last: VerifyReport | null = null;
  private lastError: string | null = null;

  constructor(private readonly o: { config: Config; log: Logger; metrics: VerifierMetrics; tables?: readonly string[] }) {}

  async run(): Promise<void> {
    const { config, log, metrics } = this.o;
    while (!this.stopping) {
      try {
        const sides = await openSides(config);
        try {
          const report = await verifyOnce(sides, { config, log, ...(this.o.tables === undefined ? {} : { tables: this.o.tables }), stopped: () => this.stopping });
          this.last = report;
          this.lastError = null;
          metrics.record(report);
          log.info({ result: report.result, tables: report.tables.length, driftRows: report.tables.reduce((n, t) => n + t.driftRows, 0), ms: report.durationMs }, "verified");
        } finally {
          await sides.close();
        }
      } catch (err) {
        const code = isZerolossError(err) ? err.code : "UNEXPECTED";
        this.lastError = `[${code}] ${describeError(err)}`;
        metrics.errors.inc({ code });
        metrics.runs.inc({ result: "error" });
        log.error({ code, err: describeError(err) }, "verification failed; trying again at the next interval");
      }
      if (!this.stopping) await this.sleeper.sleep(config.verify.intervalSeconds * 1000);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.sleeper.wake(true);
  }

  health(): Health {
    if (this.lastError !== null) return { healthy: false, status: "failing", details: { lastError: this.lastError } };
    return { healthy: true, status: this.last === null ? "starting" : "watching", details: { lastResult: this.last?.result ?? null, lastFinishedAt: this.last?.finishedAt ?? null } };
  }

  /** GET /api/last: the last report as JSON (404 before the first pass finishes). */
  routes(): Route[] {
    return [
      (_req, res: ServerResponse, url) => {
        if (url.pathname !== "/api/last") return false;
        res.writeHead(this.last === null ? 404 : 200, { "content-type": "application/json" });
        res.end(JSON.stringify(this.last ?? { error: "no verification has finished yet" }));
        return true;
      },
    ];
  }
}
