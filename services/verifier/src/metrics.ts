// The watchdog's metrics (`zeroloss verify --continuous`), on the process's own registry.
// The table label is the configured table set: low cardinality.
import { Counter, Gauge, type Registry } from "prom-client";
import type { VerifyReport } from "@zeroloss/wire";

export class VerifierMetrics {
  readonly equal: Gauge<"table">;
  readonly driftRows: Gauge<"table">;
  readonly rowsCompared: Counter<"table">;
  readonly duration: Gauge<"table">;
  readonly lastRun: Gauge;
  readonly runs: Counter<"result">;
  readonly errors: Counter<"code">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.equal = new Gauge({ name: "zeroloss_verifier_table_equal", help: "Last result per table: 1 equal by content, 0 drift or error", labelNames: ["table"], registers });
    this.driftRows = new Gauge({ name: "zeroloss_verifier_drift_rows", help: "Rows that differed in the last verification, per table (after re-checking changes in flight)", labelNames: ["table"], registers });
    this.rowsCompared = new Counter({ name: "zeroloss_verifier_rows_compared_total", help: "Rows compared by content, per table", labelNames: ["table"], registers });
    this.duration = new Gauge({ name: "zeroloss_verifier_duration_seconds", help: "How long the last verification of each table took", labelNames: ["table"], registers });
    this.lastRun = new Gauge({ name: "zeroloss_verifier_last_run_timestamp_seconds", help: "When the last verification finished", registers });
    this.runs = new Counter({ name: "zeroloss_verifier_runs_total", help: "Verifications by result: equal, drift, error", labelNames: ["result"], registers });
    this.errors = new Counter({ name: "zeroloss_verifier_errors_total", help: "Errors by stable code", labelNames: ["code"], registers });
  }

  record(r: VerifyReport): void {
    for (const t of r.tables) {
      this.equal.set({ table: t.table }, t.result === "equal" ? 1 : 0);
      this.driftRows.set({ table: t.table }, t.driftRows);
      this.rowsCompared.inc({ table: t.table }, t.rowsCompared);
      this.duration.set({ table: t.table }, t.durationMs / 1000);
    }
    this.runs.inc({ result: r.result });
    this.lastRun.set(Date.parse(r.finishedAt) / 1000);
  }
}
