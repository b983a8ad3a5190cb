// Step 1 of schema `zeroloss`: the bookkeeping tables as the last release without numbered
// migrations (commit 419982c) created them, statement for statement.
//
// It also adopts a database that release (or an earlier one) set up: such a database has
// the schema and tables but no version table, so the runner starts it at version 0 and runs
// this step over it. That is why this step, unlike every later one, keeps IF NOT EXISTS:
// over an existing schema each statement is a no-op, over an empty one it creates. The
// earlier releases only ever added whole tables (target_shapes), never columns, so "exists"
// means "has this shape". The schema itself is created by the runner, which keeps the
// version table in it.
//
// Frozen: never edit a released step; change the schema with a new file (002-….ts).
import type { Migration } from "@zeroloss/pg";

export const baseline: Migration = {
  version: 1,
  name: "baseline",
  up: [
    // The next offset not yet applied, per partition: records below it are replays.
    `CREATE TABLE IF NOT EXISTS zeroloss.applied_positions (
     topic text NOT NULL, partition integer NOT NULL, next_offset bigint NOT NULL,
     consumer_group text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (topic, partition))`,
    `CREATE TABLE IF NOT EXISTS zeroloss.tombstones (
     table_name text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL, lsn pg_lsn NOT NULL,
     PRIMARY KEY (table_name, key))`,
    `CREATE TABLE IF NOT EXISTS zeroloss.truncations (
     table_name text COLLATE "C" PRIMARY KEY, lsn pg_lsn NOT NULL, truncated_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE TABLE IF NOT EXISTS zeroloss.quarantine (
     id bigserial PRIMARY KEY, quarantined_at timestamptz NOT NULL DEFAULT now(),
     topic text NOT NULL, partition integer NOT NULL, "offset" bigint NOT NULL,
     reason_code text NOT NULL, reason text NOT NULL, table_name text, record_key text,
     expected_checksum text, computed_checksum text, differing_columns text[], diff_basis text,
     envelope text, value bytea)`,
    // Per target table, the LSN of the newest source column list it was fitted to: a record of
    // an older list (another partition still behind the DDL) must not undo a newer change.
    `CREATE TABLE IF NOT EXISTS zeroloss.target_shapes (
     table_name text COLLATE "C" PRIMARY KEY, lsn pg_lsn NOT NULL, columns jsonb NOT NULL,
     fitted_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE INDEX IF NOT EXISTS quarantine_position ON zeroloss.quarantine (topic, partition, "offset")`,
    // Tallies and DLQ records written in the batch's own transaction, published to Kafka after
    // the offset commit: a crash between the two can delay them, never lose them.
    `CREATE TABLE IF NOT EXISTS zeroloss.outbox (
     id bigserial PRIMARY KEY, topic text NOT NULL, key text, value bytea NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now())`,
  ],
};
