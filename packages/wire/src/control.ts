// The control records next to the data topics: transaction manifests, emitted/written
// tallies and the producer's checkpoints. Each is one JSON object per Kafka record.
import { WireError } from "./errors.js";

/** One per source transaction (or snapshot chunk): what it holds, to check completeness. */
export interface Manifest {
  readonly v: 1;
  readonly kind: "transaction" | "snapshot";
  readonly db: string;
  /** null for a snapshot chunk. */
  readonly xid: number | null;
  /** Commit LSN (for a snapshot chunk, the slot's consistent point). */
  readonly commitLsn: string;
  readonly commitTime: string;
  /** Data records per table (`schema.table`); a truncate counts one record per partition. */
  readonly events: Readonly<Record<string, number>>;
  readonly records: number;
  /** SHA-256 hex over the row checksums of its records, in order (32 raw bytes each; truncates contribute none). */
  readonly hash: string;
  /**
   * Per "topic:partition" of its tables' topics that its Kafka transaction wrote to: the offset
   * after that Kafka transaction's last record there. Every record of this source transaction
   * lies below it, so a counter that has read a partition up to the bound has seen all of them
   * there. Absent from producers before 2026-12.
   */
  readonly bounds?: Readonly<Record<string, number>>;
}

/** Records counted at a stage, for one (topic, partition, offset window). */
export interface Tally {
  readonly v: 1;
  readonly stage: "emitted" | "written";
  readonly topic: string;
  readonly partition: number;
  /** The window is [windowStart, windowStart + windowSize). */
  readonly windowStart: number;
  readonly windowSize: number;
  readonly count: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
  /** For written tallies: applied, duplicate, quarantined. */
  readonly detail?: Readonly<Record<string, number>>;
  /**
   * The rows the `count` records hold (rowsOfRecord: a bulk snapshot record holds many,
   * every other record one). Absent from services before 2026-12: then equal to `count`.
   */
  readonly rows?: number;
  /** Written tallies: the rows applied, duplicate and quarantined (detail counts records; one bad row of a bulk record quarantines that row alone). */
  readonly rowDetail?: Readonly<Record<string, number>>;
  /**
   * Written tallies only: these offsets had been applied to the target before (a consumer-group
   * offset reset, or records delivered again after a crash between the target commit and the
   * offset commit). The counter keeps the first count of a window and marks it replayed.
   */
  readonly replay?: boolean;
  /**
   * Written tallies that are not replays: where the consumer's applied position in the
   * partition stood before these records (the offset after the previous written tally's).
   * The consumer passed over [after, firstOffset) without writing anything there, for good:
   * commit markers only, unless a record was skipped (its group offset moved past it). The
   * counter proves a gap with it. Absent from consumers before 2026-12.
   */
  readonly after?: number;
}

/** A key as text values, its columns in the key's own order. */
export type KeyValues = readonly (string | null)[];

export interface SnapshotTableProgress {
  readonly table: string;
  readonly done: boolean;
  /** Key of the last row read (key columns in index order), null before the first chunk. Unused when `ranges` is set. */
  readonly lastKey: KeyValues | null;
  readonly rows: number;
  /**
   * The rows the table was estimated to hold when its snapshot began (the planner's
   * statistics, or a count), for progress: rows done of the estimate, and the time left.
   * Absent from producers before 2026-12.
   */
  readonly estimatedRows?: number;
  /**
   * The table cut into key ranges that snapshot workers read at once (absent: one range, the
   * whole table, resumed after `lastKey`; so are checkpoints of producers before 2026-12).
   */
  readonly ranges?: readonly SnapshotRange[];
}

/** A key range of a table being snapshotted, and how far it has been read. */
export interface SnapshotRange {
  /** Keys above this one (null: from the table's first key). */
  readonly after: KeyValues | null;
  /** Keys up to and including this one (null: to the table's last key). */
  readonly to: KeyValues | null;
  /** The last key read and committed in the range, null before its first chunk. */
  readonly lastKey: KeyValues | null;
  readonly done: boolean;
  readonly rows: number;
}

/** The producer's durable source position, written in the same Kafka transaction as the data it covers. */
export interface Checkpoint {
  readonly v: 1;
  readonly slot: string;
  readonly db: string;
  /** Every source transaction whose commit record ends at or before this LSN is in Kafka. */
  readonly lsn: string;
  readonly phase: "snapshot" | "streaming";
  readonly snapshot?: {
    readonly consistentLsn: string;
    /**
     * The slot's restart LSN when it was created: below every change of a transaction the
     * snapshot could not see, so its `r` rows carry it as their LSN (absent before 2026-11:
     * the slot's restart LSN, unchanged during the snapshot, is read instead).
     */
    readonly floorLsn?: string;
    readonly tables: readonly SnapshotTableProgress[];
  };
  /**
   * While streaming: tables being snapshotted alongside the stream (a table that began to
   * match source.tables later), with their progress. Every other published table is whole
   * in Kafka.
   */
  readonly live?: readonly SnapshotTableProgress[];
  readonly at: string;
}

export function encodeJson(value: Manifest | Tally | Checkpoint): Buffer {
  return Buffer.from(JSON.stringify(value), "utf8");
}

/** A control record's JSON object, its version checked; the WireError names `what` record was bad. */
export function parseObject(value: Buffer | null, what: string): Record<string, unknown> {
  if (value === null) throw new WireError("WIRE_EMPTY", `${what} record has no value`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString("utf8"));
  } catch (err) {
    throw new WireError("WIRE_NOT_JSON", `${what} record is not JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null) throw new WireError("WIRE_MALFORMED", `${what} record is not an object`);
  const o = parsed as Record<string, unknown>;
  if (o["v"] !== 1) throw new WireError("WIRE_VERSION", `${what} record has unknown version ${JSON.stringify(o["v"])}`);
  return o;
}

export function decodeCheckpoint(value: Buffer | null): Checkpoint {
  const o = parseObject(value, "checkpoint");
  if (typeof o["lsn"] !== "string" || typeof o["slot"] !== "string" || (o["phase"] !== "snapshot" && o["phase"] !== "streaming")) {
    throw new WireError("WIRE_MALFORMED", "checkpoint record lacks lsn, slot or phase");
  }
  return o as unknown as Checkpoint;
}

export function decodeManifest(value: Buffer | null): Manifest {
  const o = parseObject(value, "manifest");
  if (
    typeof o["db"] !== "string" ||
    typeof o["commitLsn"] !== "string" ||
    typeof o["commitTime"] !== "string" ||
    typeof o["records"] !== "number" ||
    typeof o["hash"] !== "string" ||
    typeof o["events"] !== "object" ||
    o["events"] === null ||
    Object.values(o["events"]).some((n) => !Number.isInteger(n))
  ) {
    throw new WireError("WIRE_MALFORMED", "manifest record lacks db, commitLsn, commitTime, records, hash or events (table → count)");
  }
  const bounds = o["bounds"];
  if (
    bounds !== undefined &&
    (typeof bounds !== "object" || bounds === null || Object.entries(bounds).some(([k, n]) => !/^[A-Za-z0-9._-]+:\d+$/.test(k) || !Number.isInteger(n) || (n as number) < 0))
  ) {
    throw new WireError("WIRE_MALFORMED", "manifest record's bounds is not a map of topic:partition to an offset");
  }
  return o as unknown as Manifest;
}

const TALLY_INTEGERS = ["partition", "windowStart", "windowSize", "count", "firstOffset", "lastOffset"] as const;

export function decodeTally(value: Buffer | null): Tally {
  const o = parseObject(value, "tally");
  if (typeof o["topic"] !== "string" || (o["stage"] !== "emitted" && o["stage"] !== "written")) {
    throw new WireError("WIRE_MALFORMED", "tally record lacks a topic or a stage (emitted, written)");
  }
  for (const k of TALLY_INTEGERS) {
    const n = o[k];
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0) throw new WireError("WIRE_MALFORMED", `tally record's ${k} is not a non-negative integer`);
  }
  if ((o["lastOffset"] as number) < (o["firstOffset"] as number)) throw new WireError("WIRE_MALFORMED", "tally record's lastOffset is below its firstOffset");
  const rows = o["rows"];
  if (rows !== undefined && (typeof rows !== "number" || !Number.isInteger(rows) || rows < 0)) throw new WireError("WIRE_MALFORMED", "tally record's rows is not a non-negative integer");
  const rowDetail = o["rowDetail"];
  if (rowDetail !== undefined) {
    const ok = typeof rowDetail === "object" && rowDetail !== null && Object.values(rowDetail).every((n) => typeof n === "number" && Number.isInteger(n) && n >= 0);
    if (!ok) throw new WireError("WIRE_MALFORMED", "tally record's rowDetail is not an object of non-negative integers");
  }
  const after = o["after"];
  if (after !== undefined && (typeof after !== "number" || !Number.isInteger(after) || after < 0 || after > (o["firstOffset"] as number))) {
    throw new WireError("WIRE_MALFORMED", "tally record's after is not an offset at or below its firstOffset");
  }
  return o as unknown as Tally;
}

/**
 * A request to snapshot tables again while streaming (`zeroloss snapshot --table`): the
 * content of a transactional logical message with this prefix, written to the source. It
 * reaches the producer through the replication slot, in commit order, so it is acted on
 * exactly once: the checkpoint that covers it lists the tables as live (Checkpoint.live).
 */
export const SNAPSHOT_REQUEST_PREFIX = "zeroloss.snapshot";

export interface SnapshotRequest {
  readonly v: 1;
  /** `schema.table`, as source.tables names them. */
  readonly tables: readonly string[];
  readonly at: string;
}

export function decodeSnapshotRequest(content: Buffer | string): SnapshotRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof content === "string" ? content : content.toString("utf8"));
  } catch (err) {
    throw new WireError("WIRE_NOT_JSON", `snapshot request is not JSON: ${(err as Error).message}`);
  }
  const r = parsed as Partial<SnapshotRequest> | null;
  if (r?.v !== 1 || !Array.isArray(r.tables) || !r.tables.every((t) => typeof t === "string" && t.includes(".")) || typeof r.at !== "string") {
    throw new WireError("WIRE_MALFORMED", "snapshot request lacks v 1, tables (schema.table names) or at");
  }
  return r as SnapshotRequest;
}
