// The counter's metrics, on the process's own registry. The ledger's figures (windows by
// state, totals by stage, lag, transactions) are gauges set from the ledger on each refresh,
// so every counter process reports the same numbers; labels are states, stages, and the
// data topics' partitions.
import { Counter, Gauge, type Registry } from "prom-client";
import { TRANSACTION_STATES, WINDOW_STATES, type Summary } from "@zeroloss/wire";

export class CounterMetrics {
  readonly windows: Gauge<"state">;
  readonly records: Gauge<"stage">;
  readonly rows: Gauge<"stage">;
  readonly snapshotRows: Gauge<"table" | "figure">;
  readonly snapshotEta: Gauge<"table">;
  readonly lag: Gauge<"topic" | "partition" | "stage">;
  readonly oldestUnbalanced: Gauge;
  readonly transactions: Gauge<"state">;
  readonly read: Counter<"kind">;
  readonly rejected: Counter<"kind">;
  readonly errors: Counter<"code">;
  readonly lastRefresh: Gauge;
  readonly slotAhead: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.windows = new Gauge({ name: "zeroloss_ledger_windows", help: "Offset windows in the ledger by state: open, behind, balanced, attention, mismatch, replayed", labelNames: ["state"], registers });
    this.records = new Gauge({
      name: "zeroloss_ledger_records",
      help: "Records in the ledger by stage: emitted (producer), transferred (found in Kafka), applied, duplicate, quarantined (consumer), replayed",
      labelNames: ["stage"],
      registers,
    });
    this.rows = new Gauge({
      name: "zeroloss_ledger_rows",
      help: "Rows in the ledger by stage, as zeroloss_ledger_records (a bulk snapshot record holds many rows, every other record one)",
      labelNames: ["stage"],
      registers,
    });
    this.snapshotRows = new Gauge({
      name: "zeroloss_ledger_snapshot_rows",
      help: "Per table being snapshotted (or last snapshotted), from the producer's checkpoints: figure done (rows in Kafka), estimated, per_second",
      labelNames: ["table", "figure"],
      registers,
    });
    this.snapshotEta = new Gauge({
      name: "zeroloss_ledger_snapshot_eta_seconds",
      help: "Per table being snapshotted: its estimated rows left at its rate so far (0 when done, -1 while unknown)",
      labelNames: ["table"],
      registers,
    });
    this.lag = new Gauge({
      name: "zeroloss_ledger_lag_records",
      help: "Per data topic partition: stage=kafka, records emitted but not (yet) found in Kafka; stage=target, records in Kafka not (yet) reported written; stage=counter, offsets between the counter's read position and the high watermark",
      labelNames: ["topic", "partition", "stage"],
      registers,
    });
    this.oldestUnbalanced = new Gauge({ name: "zeroloss_ledger_oldest_unbalanced_window_seconds", help: "Age of the oldest window whose counts disagree (0 when none)", registers });
    this.transactions = new Gauge({ name: "zeroloss_ledger_transactions", help: "Source transactions and snapshot chunks in the ledger by state: pending (not yet known), incomplete (proven), complete, applied", labelNames: ["state"], registers });
    this.read = new Counter({ name: "zeroloss_ledger_records_read_total", help: "Records the counter read, by kind: data, tallies, manifests, checkpoints", labelNames: ["kind"], registers });
    this.rejected = new Counter({ name: "zeroloss_ledger_rejected_records_total", help: "Records the counter could not use (named in its log), by kind", labelNames: ["kind"], registers });
    this.errors = new Counter({ name: "zeroloss_ledger_errors_total", help: "Errors by stable code", labelNames: ["code"], registers });
    this.slotAhead = new Gauge({
      name: "zeroloss_ledger_slot_ahead_bytes",
      help: "Bytes of WAL the replication slot is ahead of the producer's checkpoint (changes never read: a proven gap); 0 when it is not, or not known",
      registers,
    });
    this.lastRefresh = new Gauge({ name: "zeroloss_ledger_last_refresh_timestamp_seconds", help: "When the gauges above were last refreshed from the ledger", registers });
  }

  set(s: Summary): void {
    for (const state of WINDOW_STATES) this.windows.set({ state }, s.windows[state]);
    for (const state of TRANSACTION_STATES) this.transactions.set({ state }, s.transactions[state]);
    const { rows, ...records } = s.totals;
    for (const [stage, n] of Object.entries(records)) this.records.set({ stage }, n);
    for (const [stage, n] of Object.entries(rows)) this.rows.set({ stage }, n);
    this.lag.reset();
    for (const p of s.partitions) {
      this.lag.set({ topic: p.topic, partition: String(p.partition), stage: "kafka" }, p.kafkaLag);
      this.lag.set({ topic: p.topic, partition: String(p.partition), stage: "target" }, p.targetLag);
      this.lag.set({ topic: p.topic, partition: String(p.partition), stage: "counter" }, p.counterLag);
    }
    this.snapshotRows.reset();
    this.snapshotEta.reset();
    for (const t of s.snapshots ?? []) {
      this.snapshotRows.set({ table: t.table, figure: "done" }, t.rows);
      if (t.estimatedRows !== null) this.snapshotRows.set({ table: t.table, figure: "estimated" }, t.estimatedRows);
      this.snapshotRows.set({ table: t.table, figure: "per_second" }, t.done ? 0 : (t.rowsPerSecond ?? 0));
      this.snapshotEta.set({ table: t.table }, t.etaSeconds ?? -1);
    }
    this.oldestUnbalanced.set(s.oldestUnbalancedSeconds ?? 0);
    this.slotAhead.set(s.slot.aheadBytes);
    this.lastRefresh.set(Date.now() / 1000);
  }
}
