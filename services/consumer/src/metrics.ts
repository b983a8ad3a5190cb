// The consumer's metrics, on the process's own registry. Labels stay low-cardinality:
// table names (a configured set), results, error codes, and partitions of the data topics.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export class ConsumerMetrics {
  readonly records: Counter<"table" | "result">;
  readonly rows: Counter<"table" | "result">;
  readonly consumed: Counter<"table">;
  readonly malformed: Counter<"code">;
  readonly checksumMismatches: Counter<"table">;
  readonly schemaChanges: Counter<"table">;
  readonly lag: Gauge<"topic" | "partition">;
  readonly latency: Histogram;
  readonly batchRecords: Histogram;
  readonly applySeconds: Histogram;
  readonly transactionBatches: Histogram;
  readonly errors: Counter<"code">;
  readonly stoppedPartitions: Gauge;
  readonly batchesAhead: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.consumed = new Counter({ name: "zeroloss_consumer_records_consumed_total", help: "Data records read from Kafka, by table (unknown for malformed records)", labelNames: ["table"], registers });
    this.records = new Counter({
      name: "zeroloss_consumer_records_total",
      help: "Data records by table and result: applied, duplicate (the target already held that change or a newer one), quarantined",
      labelNames: ["table", "result"],
      registers,
    });
    this.rows = new Counter({
      name: "zeroloss_consumer_rows_total",
      help: "Rows by table and result, as the records count (a bulk snapshot record holds many rows; one bad row of it is quarantined alone)",
      labelNames: ["table", "result"],
      registers,
    });
    this.malformed = new Counter({ name: "zeroloss_consumer_malformed_records_total", help: "Records that are no valid envelope (sent to the DLQ), by reason code", labelNames: ["code"], registers });
    this.checksumMismatches = new Counter({ name: "zeroloss_consumer_checksum_mismatches_total", help: "Rows whose checksum, recomputed by the target database, differs from the producer's", labelNames: ["table"], registers });
    this.schemaChanges = new Counter({
      name: "zeroloss_consumer_schema_changes_total",
      help: "Changes made to target tables to fit the source's new columns (target.schemaChanges apply), by table",
      labelNames: ["table"],
      registers,
    });
    this.lag = new Gauge({ name: "zeroloss_consumer_lag_offsets", help: "High watermark minus committed offset, per data topic partition", labelNames: ["topic", "partition"], registers });
    this.latency = new Histogram({
      name: "zeroloss_consumer_end_to_end_seconds",
      help: "Source commit time to target commit time, per record",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
      registers,
    });
    this.batchRecords = new Histogram({ name: "zeroloss_consumer_batch_records", help: "Records per applied partition batch", buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000, 50000], registers });
    this.applySeconds = new Histogram({ name: "zeroloss_consumer_apply_seconds", help: "Time of one target transaction (the batches of one or more partitions)", buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers });
    this.transactionBatches = new Histogram({
      name: "zeroloss_consumer_transaction_batches",
      help: "Partition batches applied in one target transaction",
      buckets: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64],
      registers,
    });
    this.errors = new Counter({ name: "zeroloss_consumer_errors_total", help: "Errors by stable code", labelNames: ["code"], registers });
    this.batchesAhead = new Gauge({
      name: "zeroloss_consumer_batches_ahead",
      help: "Partition batches fetched while the partition's previous batch is in the target, waiting for it (fetch-ahead: above 0 most of the time, the target is what the consumer waits on)",
      registers,
    });
    this.stoppedPartitions = new Gauge({ name: "zeroloss_consumer_stopped_partitions", help: "Partitions stopped by a non-retriable failure (see /healthz)", registers });
  }
}
