// The tables of schema `zeroloss` as the last migration leaves them: their names and
// columns, the one declaration the consumer (which writes them) and the verifier (which
// reads the applied positions) both import. The migrations create them; this file says
// what they created (test/consumer/bookkeeping-upgrade.test.ts checks the two agree).
import { quoteIdent } from "@zeroloss/pg";

/** The consumer's bookkeeping schema in the target. */
export const BOOKKEEPING_SCHEMA = "zeroloss";

export interface BookkeepingTable<C extends string = string> {
  /** The table's name in the schema: `applied_positions`. */
  readonly name: string;
  /** `zeroloss.applied_positions`, for messages. */
  readonly qualified: string;
  /** `"zeroloss"."applied_positions"`, for SQL text (and to_regclass). */
  readonly sql: string;
  /** Its columns, in table order. */
  readonly columns: readonly C[];
}

function table<C extends string>(name: string, columns: readonly C[]): BookkeepingTable<C> {
  return { name, qualified: `${BOOKKEEPING_SCHEMA}.${name}`, sql: `${quoteIdent(BOOKKEEPING_SCHEMA)}.${quoteIdent(name)}`, columns };
}

/** The next offset not yet applied, per partition (key topic, partition): records below it are replays. */
export const APPLIED_POSITIONS = table("applied_positions", ["topic", "partition", "next_offset", "consumer_group", "updated_at"] as const);

/** Records that could not be applied, with the reason and what is known of the record. */
export const QUARANTINE = table("quarantine", [
  "id",
  "quarantined_at",
  "topic",
  "partition",
  "offset",
  "reason_code",
  "reason",
  "table_name",
  "record_key",
  "expected_checksum",
  "computed_checksum",
  "differing_columns",
  "diff_basis",
  "envelope",
  "value",
] as const);

/** Per target table and key (as the consumer renders it), the LSN of the delete that removed the row. */
export const TOMBSTONES = table("tombstones", ["table_name", "key", "lsn"] as const);

/** Per target table, the LSN of its last truncate. */
export const TRUNCATIONS = table("truncations", ["table_name", "lsn", "truncated_at"] as const);

/** Per target table, the newest source column list it was fitted to, and that list's LSN. */
export const TARGET_SHAPES = table("target_shapes", ["table_name", "lsn", "columns", "fitted_at"] as const);

/** Kafka records (tallies, DLQ) written in a batch's transaction, published after it. */
export const OUTBOX = table("outbox", ["id", "topic", "key", "value", "created_at"] as const);

export const BOOKKEEPING_TABLES: readonly BookkeepingTable[] = [APPLIED_POSITIONS, TOMBSTONES, TRUNCATIONS, QUARANTINE, TARGET_SHAPES, OUTBOX];

/**
 * A row of zeroloss.applied_positions as a zeroloss connection returns it (every value the
 * server's text: bigint and integer as decimal strings).
 */
export type AppliedPositionRow = { readonly [K in (typeof APPLIED_POSITIONS.columns)[number]]: string };

/**
 * A row of zeroloss.quarantine as a zeroloss connection returns it: text, `differing_columns`
 * as an array literal (`{a,b}`), `value` as bytea hex (`\x…`); null where nothing was known.
 */
export type QuarantineRow = { readonly [K in "id" | "quarantined_at" | "topic" | "partition" | "offset" | "reason_code" | "reason"]: string } & {
  readonly [K in Exclude<(typeof QUARANTINE.columns)[number], "id" | "quarantined_at" | "topic" | "partition" | "offset" | "reason_code" | "reason">]: string | null;
};
