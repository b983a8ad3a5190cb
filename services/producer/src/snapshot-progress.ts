// What an operator sees of a long snapshot in the log and the metrics: every few seconds, per
// table rows committed of the estimate, and overall rows/s and the time left at that rate. The counts
// are committed rows (in Kafka), never rows merely read. Estimates come from pg_class
// (ANALYZE); a table found larger than its estimate shows its rows as the estimate.
import type { Logger } from "pino";
import type { ProducerMetrics } from "./metrics.js";

const EVERY_MS = 5_000;

interface TableState {
  estimated: number;
  rows: number;
  done: boolean;
}

export class SnapshotProgressLog {
  private readonly tables = new Map<string, TableState>();
  private readonly startedAt = Date.now();
  private readonly rowsAtStart: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly log: Logger,
    private readonly metrics: ProducerMetrics,
    tables: readonly { table: string; estimated: number; rows: number }[],
  ) {
    for (const t of tables) this.tables.set(t.table, { estimated: t.estimated, rows: t.rows, done: false });
    this.rowsAtStart = this.total().rows;
  }

  start(): void {
    this.log.info({ tables: this.tableFigures() }, "snapshot starting");
    this.metrics.snapshotEta.set(-1);
    this.timer = setInterval(() => this.print("snapshot progress"), EVERY_MS);
    this.timer.unref();
  }

  update(table: string, rows: number, done: boolean): void {
    const t = this.tables.get(table);
    if (t === undefined) return;
    const wasDone = t.done;
    t.rows = rows;
    t.estimated = Math.max(t.estimated, rows);
    t.done = done;
    if (done && !wasDone) this.log.info({ table, rows }, "table snapshot complete");
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.print([...this.tables.values()].every((t) => t.done) ? "snapshot read every table" : "snapshot stopped before its end; it resumes after the last committed chunk");
    this.metrics.snapshotRate.set(0);
    this.metrics.snapshotEta.set(0);
  }

  private total(): { rows: number; estimated: number } {
    let rows = 0;
    let estimated = 0;
    for (const t of this.tables.values()) {
      rows += t.rows;
      estimated += t.done ? t.rows : Math.max(t.estimated, t.rows);
    }
    return { rows, estimated };
  }

  private tableFigures(): { table: string; rows: number; estimated: number; done: boolean }[] {
    return [...this.tables].map(([table, t]) => ({ table, rows: t.rows, estimated: t.estimated, done: t.done }));
  }

  private print(msg: string): void {
    const { rows, estimated } = this.total();
    const seconds = (Date.now() - this.startedAt) / 1000;
    const rate = seconds > 0 ? (rows - this.rowsAtStart) / seconds : 0;
    const left = Math.max(0, estimated - rows);
    this.metrics.snapshotRate.set(Math.round(rate));
    this.metrics.snapshotEta.set(rate > 0 ? Math.round(left / rate) : -1);
    this.log.info(
      {
        rows,
        estimated,
        rowsPerSecond: Math.round(rate),
        etaSeconds: rate > 0 ? Math.round(left / rate) : null,
        tables: this.tableFigures().filter((t) => !t.done),
      },
      msg,
    );
  }
}
