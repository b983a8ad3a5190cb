// The JSON reports zeroloss serves to operators and tools: the counter's /api/summary (and
// `zeroloss status --json`) and the verifier's `zeroloss verify --json` (and /api/last).
// The services build them, the CLI and the demo read them: one definition, so neither side
// keeps a copy that drifts.

// --- the counter's summary ---

/**
 * open: balanced so far, the partition not past its end; behind: the counts disagree and nothing
 * is proven (records on their way, or the counter has not read far enough to know); balanced;
 * attention: records quarantined; mismatch: a difference proven by what the counter has read;
 * replayed: balanced, and re-read by a replay. docs/counter.md has the rules.
 */
export const WINDOW_STATES = ["open", "behind", "balanced", "attention", "mismatch", "replayed"] as const;
export type WindowState = (typeof WINDOW_STATES)[number];
export const TRANSACTION_STATES = ["pending", "incomplete", "complete", "applied"] as const;
export type TransactionState = (typeof TRANSACTION_STATES)[number];

/** Rows counted at each stage: a bulk snapshot record holds many, every other record one. */
export interface RowTotals {
  emitted: number;
  transferred: number;
  applied: number;
  duplicate: number;
  quarantined: number;
}

export interface StageTotals {
  emitted: number;
  transferred: number;
  applied: number;
  duplicate: number;
  quarantined: number;
  /** Records re-read by replays (each replay counted), kept apart from the totals. */
  replayed: number;
  /** The same stages counted in rows. */
  rows: RowTotals;
}

export interface PartitionSummary {
  topic: string;
  partition: number;
  highWatermark: number | null;
  /** The offset the counter reads the partition from next: it has read everything below. */
  readTo: number;
  /** Offsets between the counter's position and the high watermark: how far the counter itself trails. */
  counterLag: number;
  emitted: number;
  transferred: number;
  written: number;
  /** The same three counted in rows. */
  rows: { emitted: number; transferred: number; written: number };
  /** Records the producer reported that the counter has not (yet) found in Kafka. */
  kafkaLag: number;
  /** Records in Kafka the consumer has not (yet) reported written. */
  targetLag: number;
  /** The last offset of the unbroken run of balanced windows from the partition's start, or null. */
  lastBalancedOffset: number | null;
}

export interface WindowRow {
  topic: string;
  partition: number;
  windowStart: number;
  windowEnd: number;
  state: WindowState;
  emitted: number;
  transferred: number;
  applied: number;
  duplicate: number;
  quarantined: number;
  rows: RowTotals;
  /** false: a tally of a service before 2026-12 (which counts no rows) was counted here; the rows show records and are not compared. */
  rowsExact: boolean;
  replayRecords: number;
  unbalancedSince: string | null;
  updatedAt: string;
  /** Why it is not balanced, naming offsets where the ledger can. */
  problems: string[];
}

/** The counter's last comparison of the replication slot with the producer's checkpoint. */
export interface SlotState {
  /** ok; ahead: the slot passed the checkpoint (a proven gap); unknown: not decided (detail says why); off: counter.slotCheckSeconds is 0. */
  readonly state: "ok" | "ahead" | "unknown" | "off";
  readonly slot: string;
  /** ahead: the problem, with both LSNs and the ways out; unknown: why. */
  readonly detail: string | null;
  /** Bytes of WAL the slot is ahead by (0 unless ahead). */
  readonly aheadBytes: number;
  readonly checkedAt: string | null;
}

/** A table's snapshot, as the producer's checkpoints report it (progress, not proof). */
export interface SnapshotProgress {
  readonly slot: string;
  readonly table: string;
  /** initial: the snapshot the slot began with; live: a table added, or snapshotted again, while streaming. */
  readonly kind: "initial" | "live";
  /** Rows committed to Kafka. */
  readonly rows: number;
  /** The estimate when the snapshot began (never below rows); null when the producer gave none. */
  readonly estimatedRows: number | null;
  readonly done: boolean;
  /** Rows per second since the counter first saw this snapshot; null before two checkpoints. */
  readonly rowsPerSecond: number | null;
  /** The estimated rows left at that rate; 0 when done, null when unknown. */
  readonly etaSeconds: number | null;
  readonly updatedAt: string;
}

export interface Summary {
  at: string;
  graceSeconds: number;
  totals: StageTotals;
  windows: Record<WindowState, number>;
  transactions: Record<TransactionState, number>;
  oldestUnbalancedSeconds: number | null;
  partitions: PartitionSummary[];
  /** Windows in mismatch, attention or behind, worst first (at most 50). */
  needsAttention: WindowRow[];
  slot: SlotState;
  /** Snapshots running and ended, running first (absent from counters before 2026-12). */
  snapshots?: SnapshotProgress[];
  /** Problems beyond windows and transactions (a slot ahead of the checkpoint), each a sentence naming what to do. */
  problems: string[];
  /** true when nothing is in mismatch or attention, nothing is quarantined, no transaction is incomplete and `problems` is empty. */
  ok: boolean;
}

// --- the verifier's report (key and column values are PostgreSQL's text output) ---

export type TableResult = "equal" | "drift" | "error";

export interface ColumnDifference {
  readonly column: string;
  /** null: SQL NULL (or no such row on that side). */
  readonly source: string | null;
  readonly target: string | null;
}

export interface RowDifference {
  /** Key column → value. */
  readonly key: Readonly<Record<string, string>>;
  /** missing: only in the source; extra: only in the target; changed: both, different content. */
  readonly kind: "missing" | "extra" | "changed";
  /** false when the row kept changing until the settle time ran out (a steady workload on that row). */
  readonly settled: boolean;
  /** For changed rows: the columns that differ. */
  readonly columns: readonly ColumnDifference[];
}

export interface TableReport {
  readonly table: string;
  readonly result: TableResult;
  readonly sourceRows: number;
  readonly targetRows: number;
  /** Rows hashed on both sides in the last pass (the larger side's count per range). */
  readonly rowsCompared: number;
  /** Rows that differ (all of them; `rows` lists at most verify.maxReportedRows). */
  readonly driftRows: number;
  /** Differences seen at first and gone when read again: changes that were in flight. */
  readonly inFlight: number;
  readonly durationMs: number;
  /** Structural drift (missing table, column or key), or the error that stopped this table. */
  readonly problems: readonly string[];
  /** Declared types that differ between the sides. */
  readonly notes: readonly string[];
  readonly rows: readonly RowDifference[];
}

export interface VerifyReport {
  readonly result: "equal" | "drift" | "error";
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  /** Full passes over every table (more than one with --sustain). */
  readonly passes: number;
  /** --sustain: the seconds of zero drift asked for, and reached. */
  readonly sustain?: { readonly seconds: number; readonly reachedSeconds: number };
  readonly tables: readonly TableReport[];
}
