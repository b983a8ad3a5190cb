// Step 1 of schema `zeroloss_counter`: the ledger as the last release without numbered
// migrations (commit 419982c) created or upgraded it, statement for statement.
//
// It also adopts a ledger that release (or an earlier one) set up: such a ledger has the
// schema and tables but no version table, so the runner starts it at version 0 and runs
// this step over it. That is why this step, unlike every later one, keeps IF NOT EXISTS and
// the conditional upgrades of earlier ledgers (the 2026-11 columns, rows beside records):
// over a ledger of any earlier release it brings the tables to this shape, over an empty
// schema it creates them. The schema itself is created by the runner, which keeps the
// version table in it.
//
// Frozen: never edit a released step; change the ledger with a new file (002-….ts).
import type { Migration } from "@zeroloss/pg";

export const baseline: Migration = {
  version: 1,
  name: "baseline",
  up: [
    `CREATE TABLE IF NOT EXISTS zeroloss_counter.positions (
       topic text NOT NULL, partition integer NOT NULL, next_offset bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (topic, partition))`,
    `CREATE TABLE IF NOT EXISTS zeroloss_counter.windows (
       topic text NOT NULL, partition integer NOT NULL, window_start bigint NOT NULL, window_size bigint NOT NULL,
       emitted bigint NOT NULL DEFAULT 0, transferred bigint NOT NULL DEFAULT 0,
       applied bigint NOT NULL DEFAULT 0, duplicate bigint NOT NULL DEFAULT 0, quarantined bigint NOT NULL DEFAULT 0,
       replay_records bigint NOT NULL DEFAULT 0, replay_tallies integer NOT NULL DEFAULT 0,
       transferred_offsets int8multirange NOT NULL DEFAULT '{}', emitted_offsets int8multirange NOT NULL DEFAULT '{}',
       written_offsets int8multirange NOT NULL DEFAULT '{}', skipped_offsets int8multirange NOT NULL DEFAULT '{}',
       first_seen_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(), unbalanced_since timestamptz,
       PRIMARY KEY (topic, partition, window_start))`,
    `CREATE TABLE IF NOT EXISTS zeroloss_counter.tallies_seen (
       stage text NOT NULL, topic text NOT NULL, partition integer NOT NULL, first_offset bigint NOT NULL, replay boolean NOT NULL,
       last_offset bigint NOT NULL, count bigint NOT NULL, seen_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (stage, topic, partition, first_offset, replay))`,
    // Per data partition: its high watermark as last fetched, the highest offset the emitted
    // tallies cover (emitted_to, exclusive), the highest manifest bound read (manifest_bound),
    // and the last probe of Kafka's committed end (stable_end, its last stable offset) taken
    // after the tallies up to stable_claims_to had been counted.
    `CREATE TABLE IF NOT EXISTS zeroloss_counter.partitions (
       topic text NOT NULL, partition integer NOT NULL, high_watermark bigint, emitted_to bigint, manifest_bound bigint,
       stable_end bigint, stable_claims_to bigint, stable_short_since timestamptz, updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (topic, partition))`,
    `CREATE TABLE IF NOT EXISTS zeroloss_counter.transactions (
       db text NOT NULL, commit_lsn pg_lsn NOT NULL, commit_time text NOT NULL, kind text, xid bigint,
       expected jsonb, expected_records bigint, seen jsonb NOT NULL DEFAULT '{}', seen_records bigint NOT NULL DEFAULT 0,
       last_offsets jsonb NOT NULL DEFAULT '{}', offsets jsonb, bounds jsonb, manifest_at timestamptz, first_seen_at timestamptz NOT NULL DEFAULT now(),
       complete_at timestamptz, applied_at timestamptz,
       PRIMARY KEY (db, commit_lsn, commit_time))`,
    // A ledger of the 2026-11 counter gains what the proofs need.
    `ALTER TABLE zeroloss_counter.windows ADD COLUMN IF NOT EXISTS skipped_offsets int8multirange NOT NULL DEFAULT '{}'`,
    `ALTER TABLE zeroloss_counter.transactions ADD COLUMN IF NOT EXISTS offsets jsonb, ADD COLUMN IF NOT EXISTS bounds jsonb`,
    `ALTER TABLE zeroloss_counter.partitions ALTER COLUMN high_watermark DROP NOT NULL, ADD COLUMN IF NOT EXISTS emitted_to bigint, ADD COLUMN IF NOT EXISTS manifest_bound bigint,
       ADD COLUMN IF NOT EXISTS stable_end bigint, ADD COLUMN IF NOT EXISTS stable_claims_to bigint, ADD COLUMN IF NOT EXISTS stable_short_since timestamptz`,
    // Rows beside records (2026-12). A window counted before then shows its records as rows,
    // and its rows are not compared (rows_inexact): a bulk record there held many.
    `DO $$ BEGIN
       IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'zeroloss_counter' AND table_name = 'windows' AND column_name = 'emitted_rows') THEN
         ALTER TABLE zeroloss_counter.windows ADD COLUMN emitted_rows bigint NOT NULL DEFAULT 0, ADD COLUMN transferred_rows bigint NOT NULL DEFAULT 0,
           ADD COLUMN applied_rows bigint NOT NULL DEFAULT 0, ADD COLUMN duplicate_rows bigint NOT NULL DEFAULT 0, ADD COLUMN quarantined_rows bigint NOT NULL DEFAULT 0,
           ADD COLUMN rows_inexact boolean NOT NULL DEFAULT false;
         UPDATE zeroloss_counter.windows SET emitted_rows = emitted, transferred_rows = transferred, applied_rows = applied, duplicate_rows = duplicate,
           quarantined_rows = quarantined, rows_inexact = true;
       END IF;
     END $$`,
    // Snapshot progress as the producer's checkpoints tell it (snapshots.ts).
    `CREATE TABLE IF NOT EXISTS zeroloss_counter.snapshots (
       slot text NOT NULL, table_name text NOT NULL, kind text NOT NULL, rows bigint NOT NULL, estimated bigint, done boolean NOT NULL,
       started_at timestamptz NOT NULL, started_rows bigint NOT NULL, updated_at timestamptz NOT NULL,
       PRIMARY KEY (slot, table_name))`,
    `CREATE INDEX IF NOT EXISTS transactions_unapplied ON zeroloss_counter.transactions (first_seen_at) WHERE applied_at IS NULL`,
    // Applied, then a record more than its manifest promised arrived (complete_at cleared): incomplete.
    `CREATE INDEX IF NOT EXISTS transactions_reopened ON zeroloss_counter.transactions (applied_at) WHERE applied_at IS NOT NULL AND complete_at IS NULL`,
    // Running counts the summary reads instead of counting every retained row each refresh:
    // 'applied' = transactions marked applied and not yet pruned.
    `CREATE TABLE IF NOT EXISTS zeroloss_counter.counts (name text PRIMARY KEY, n bigint NOT NULL)`,
    `INSERT INTO zeroloss_counter.counts SELECT 'applied', count(*) FROM zeroloss_counter.transactions WHERE applied_at IS NOT NULL ON CONFLICT DO NOTHING`,
    // Per-table counts merge by adding: {"public.a": 2} + {"public.a": 1, "public.b": 1}.
    `CREATE OR REPLACE FUNCTION zeroloss_counter.add_counts(a jsonb, b jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
       SELECT COALESCE(jsonb_object_agg(k, n), '{}') FROM (
         SELECT k, sum(v::bigint) AS n FROM (SELECT * FROM jsonb_each_text(a) UNION ALL SELECT * FROM jsonb_each_text(b)) e(k, v) GROUP BY k) s $$`,
    // Offsets per "topic:partition" merge by union: {"t:0": "{[1,3)}"} + {"t:0": "{[3,4)}"} = {"t:0": "{[1,4)}"}.
    `CREATE OR REPLACE FUNCTION zeroloss_counter.union_offsets(a jsonb, b jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
       SELECT COALESCE(jsonb_object_agg(k, m::text), '{}') FROM (
         SELECT k, range_agg(r) AS m FROM (
           SELECT k, unnest(v::int8multirange) AS r FROM (SELECT * FROM jsonb_each_text(COALESCE(a, '{}')) UNION ALL SELECT * FROM jsonb_each_text(COALESCE(b, '{}'))) e(k, v)) x
         GROUP BY k) s $$`,
  ],
};
