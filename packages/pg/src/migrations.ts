// Numbered schema migrations: the one way a zeroloss schema (the target's `zeroloss`, the
// counter's `zeroloss_counter`) is created and changed. Each schema keeps the steps applied
// to it in its own version table, `<schema>.migrations` (version, name, applied_at); a
// start applies the steps that table lacks, in order, one transaction per step, under an
// advisory lock, so instances starting at once apply each step exactly once. A database
// with a step the code does not know (a newer release migrated it, or another build) is
// refused: an older binary writing into a newer schema could lose data silently.
//
// The version table lives inside the schema it describes: dropping the schema (a ledger
// restored empty) drops its history with it, and the next start builds it again from step 1.
//
// A step is frozen once released: its SQL text never changes (later changes are new steps),
// and its version and name never change (they are what the check compares).
import { ZerolossError } from "@zeroloss/errors";
import type pg from "pg";
import { quoteIdent } from "@zeroloss/checksum";
import { query } from "./connect.js";
import { inTransaction } from "./transaction.js";

export const SCHEMA_NEWER_THAN_CODE = "SCHEMA_NEWER_THAN_CODE";
export const SCHEMA_MIGRATION_MISMATCH = "SCHEMA_MIGRATION_MISMATCH";
export const MIGRATIONS_INVALID = "MIGRATIONS_INVALID";

/** One step. Versions count 1, 2, 3… with no gap; the list is in that order. */
export interface Migration {
  readonly version: number;
  /** Short and stable, e.g. `baseline`: compared with the database's record of the step. */
  readonly name: string;
  /** Statements run in order, or a function for a step that must read before it writes; in the step's transaction either way. */
  readonly up: readonly string[] | ((client: pg.Client) => Promise<void>);
}

export interface AppliedStep {
  readonly schema: string;
  readonly version: number;
  readonly name: string;
  /** How long the step's transaction took, lock wait included. */
  readonly ms: number;
}

export interface MigrateOptions {
  /** The schema the steps build; it holds the version table `migrations`. */
  readonly schema: string;
  /** Whose schema, for messages: "the consumer's bookkeeping in the target". */
  readonly what: string;
  /** pg_advisory_xact_lock key taken by every step's transaction: one instance migrates at a time. */
  readonly lock: number;
  readonly migrations: readonly Migration[];
  /** Called after each step commits (the service logs it). */
  readonly onApplied?: (step: AppliedStep) => void;
}

export interface MigrateResult {
  /** The database's version before this call (0: no version table yet). */
  readonly from: number;
  /** The version now: the code's latest. */
  readonly to: number;
  readonly applied: readonly AppliedStep[];
}

/** A step list that breaks the rules above: a programming error, caught before anything is touched. */
function checkList(schema: string, migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1 || m.name.trim() === "") {
      throw new ZerolossError(
        MIGRATIONS_INVALID,
        `the migrations of schema ${schema}: step ${i + 1} is numbered ${m.version} and named "${m.name}"; versions must count 1, 2, 3… in order, each with a name`,
        { details: { schema, index: i, version: m.version, name: m.name } },
      );
    }
  });
}

interface VersionRow {
  version: string;
  name: string;
}

/** The version table, created (with its schema) when missing; the caller holds the lock. */
async function ensureVersionTable(client: pg.Client, schema: string, table: string): Promise<void> {
  const [found] = await query<{ schema: boolean | string; table: string | null }>(
    client,
    `looking for the version table ${schema}.migrations`,
    "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS schema, to_regclass($2)::text AS table",
    [schema, table],
  );
  // CREATE SCHEMA IF NOT EXISTS checks the database's CREATE privilege even when the schema
  // exists: a role given only a schema made for it would be refused. So only when missing.
  if (found?.schema !== true && found?.schema !== "t") await query(client, `creating schema ${schema}`, `CREATE SCHEMA ${quoteIdent(schema)}`);
  if (found?.table === null || found?.table === undefined) {
    await query(
      client,
      `creating the version table ${schema}.migrations`,
      `CREATE TABLE ${table} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
  }
}

/**
 * The database's version, or a refusal when it holds a step the code does not know (a
 * higher version, the same version under another name) or lacks one below its version.
 */
function checkKnown(o: MigrateOptions, rows: readonly VersionRow[]): number {
  const code = o.migrations.length;
  const latest = rows.reduce((n, r) => Math.max(n, Number(r.version)), 0);
  const named = (r: VersionRow) => `${r.version} (${r.name})`;
  if (latest > code) {
    const unknown = rows.filter((r) => Number(r.version) > code);
    throw new ZerolossError(
      SCHEMA_NEWER_THAN_CODE,
      `schema ${o.schema} (${o.what}) is at version ${latest}, newer than this zeroloss knows (version ${code}): ` +
        `step(s) ${unknown.map(named).join(", ")} came from a newer release. Run that release or a newer one; ` +
        `this one would write into a schema it does not know (see ${o.schema}.migrations)`,
      { details: { schema: o.schema, databaseVersion: latest, codeVersion: code, unknown: unknown.map((r) => ({ version: Number(r.version), name: r.name })) } },
    );
  }
  for (const r of rows) {
    const m = o.migrations[Number(r.version) - 1];
    if (m !== undefined && m.name !== r.name) {
      throw new ZerolossError(
        SCHEMA_MIGRATION_MISMATCH,
        `schema ${o.schema} (${o.what}): its step ${named(r)} is not this zeroloss's step ${m.version} (${m.name}); ` +
          `the database was migrated by another build. Run the build that migrated it (see ${o.schema}.migrations)`,
        { details: { schema: o.schema, version: m.version, databaseName: r.name, codeName: m.name } },
      );
    }
  }
  // Steps are recorded one at a time, in order: a hole means the table was edited by hand.
  const missing = o.migrations.slice(0, latest).filter((m) => !rows.some((r) => Number(r.version) === m.version));
  if (missing.length > 0) {
    throw new ZerolossError(
      SCHEMA_MIGRATION_MISMATCH,
      `schema ${o.schema} (${o.what}) is at version ${latest} without step(s) ${missing.map((m) => `${m.version} (${m.name})`).join(", ")}: ` +
        `${o.schema}.migrations was changed by hand; restore it or the database`,
      { details: { schema: o.schema, databaseVersion: latest, missing: missing.map((m) => m.version) } },
    );
  }
  return latest;
}

/**
 * Brings `o.schema` to the last step of `o.migrations`: each missing step in its own
 * transaction, which takes the lock, reads the version table again (another instance may
 * have applied the step meanwhile), applies the step and records it. Throws
 * SCHEMA_NEWER_THAN_CODE or SCHEMA_MIGRATION_MISMATCH (not retriable) before changing
 * anything when the database holds a step the code does not know.
 */
export async function migrate(client: pg.Client, o: MigrateOptions): Promise<MigrateResult> {
  checkList(o.schema, o.migrations);
  const table = `${quoteIdent(o.schema)}.${quoteIdent("migrations")}`;
  let from: number | undefined;
  const applied: AppliedStep[] = [];
  for (;;) {
    const started = Date.now();
    const { at, step } = await inTransaction(
      client,
      `migrating schema ${o.schema}`,
      async () => {
        await ensureVersionTable(client, o.schema, table);
        const rows = await query<VersionRow>(client, `reading the version table ${o.schema}.migrations`, `SELECT version, name FROM ${table} ORDER BY version`);
        const version = checkKnown(o, rows);
        const next = o.migrations[version];
        if (next === undefined) return { at: version, step: null };
        const what = `applying step ${next.version} (${next.name}) to schema ${o.schema}`;
        if (typeof next.up === "function") await next.up(client);
        else for (const sql of next.up) await query(client, what, sql);
        await query(client, `recording step ${next.version} in ${o.schema}.migrations`, `INSERT INTO ${table} (version, name) VALUES ($1, $2)`, [next.version, next.name]);
        return { at: version, step: next };
      },
      // READ COMMITTED whatever the role's default: the version table is read after the lock
      // is granted, so it sees what the runner that held the lock committed.
      { advisoryLock: o.lock, begin: "BEGIN ISOLATION LEVEL READ COMMITTED" },
    );
    from ??= at;
    if (step === null) break;
    const done: AppliedStep = { schema: o.schema, version: step.version, name: step.name, ms: Date.now() - started };
    applied.push(done);
    o.onApplied?.(done);
  }
  return { from: from ?? 0, to: o.migrations.length, applied };
}
