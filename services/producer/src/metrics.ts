// The producer's metrics, on the process's own registry. Labels stay low-cardinality:
// table names (a configured set), ops, phases and error codes.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export class ProducerMetrics {
  readonly events: Counter<"table" | "op">;
  readonly rows: Counter<"table" | "op">;
  readonly sourceTransactions: Counter;
  readonly snapshotRows: Gauge<"table">;
  readonly snapshotRowsEstimated: Gauge<"table">;
  readonly snapshotRate: Gauge;
  readonly snapshotEta: Gauge;
  readonly liveChunkRetries: Counter<"table">;
  readonly lagBytes: Gauge;
  readonly lagSeconds: Gauge;
  readonly retainedWalBytes: Gauge;
  readonly produceSeconds: Histogram;
  readonly kafkaTransactions: Counter<"result">;
  readonly errors: Counter<"code">;
  readonly durableLsn: Gauge;
  readonly up: Gauge<"phase">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.events = new Counter({ name: "zeroloss_producer_events_total", help: "Data records committed to Kafka, by table and op", labelNames: ["table", "op"], registers });
    this.rows = new Counter({
      name: "zeroloss_producer_rows_total",
      help: "Rows committed to Kafka, by table and op (a bulk snapshot record holds many rows, every other record one)",
      labelNames: ["table", "op"],
      registers,
    });
    this.sourceTransactions = new Counter({ name: "zeroloss_producer_source_transactions_total", help: "Source transactions committed to Kafka", registers });
    this.snapshotRows = new Gauge({ name: "zeroloss_producer_snapshot_rows", help: "Snapshot rows committed to Kafka, by table", labelNames: ["table"], registers });
    this.snapshotRowsEstimated = new Gauge({ name: "zeroloss_producer_snapshot_rows_estimated", help: "Estimated rows to snapshot, by table", labelNames: ["table"], registers });
    this.snapshotRate = new Gauge({ name: "zeroloss_producer_snapshot_rows_per_second", help: "The initial snapshot's rows committed per second since this run began it (0 when none is running)", registers });
    this.snapshotEta = new Gauge({
      name: "zeroloss_producer_snapshot_eta_seconds",
      help: "The initial snapshot's estimated rows left at its rate so far (-1 while no rate is known; 0 when none is running)",
      registers,
    });
    this.liveChunkRetries = new Counter({
      name: "zeroloss_producer_live_snapshot_chunk_retries_total",
      help: "Chunks of a table snapshotted while streaming that were read again (a truncate or an unseen TOAST-keeping update came first)",
      labelNames: ["table"],
      registers,
    });
    this.lagBytes = new Gauge({ name: "zeroloss_producer_replication_lag_bytes", help: "Current WAL LSN minus the slot's confirmed flush LSN", registers });
    this.lagSeconds = new Gauge({ name: "zeroloss_producer_replication_lag_seconds", help: "Now minus the commit time of the last source transaction made durable in Kafka", registers });
    this.retainedWalBytes = new Gauge({ name: "zeroloss_producer_slot_retained_wal_bytes", help: "WAL the slot keeps on the source (current WAL LSN minus restart LSN)", registers });
    this.produceSeconds = new Histogram({
      name: "zeroloss_producer_kafka_transaction_seconds",
      help: "Time from a Kafka transaction's first record to its commit",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.kafkaTransactions = new Counter({ name: "zeroloss_producer_kafka_transactions_total", help: "Kafka transactions, by result (committed, aborted)", labelNames: ["result"], registers });
    this.errors = new Counter({ name: "zeroloss_producer_errors_total", help: "Errors by stable code", labelNames: ["code"], registers });
    this.durableLsn = new Gauge({ name: "zeroloss_producer_durable_lsn", help: "The source position made durable in Kafka and acknowledged to the slot (as a number)", registers });
    this.up = new Gauge({ name: "zeroloss_producer_phase", help: "1 for the phase the producer is in", labelNames: ["phase"], registers });
  }

  setPhase(phase: string): void {
    for (const p of ["starting", "snapshotting", "streaming", "waiting", "stopped", "failed"]) this.up.set({ phase: p }, p === phase ? 1 : 0);
  }
}
