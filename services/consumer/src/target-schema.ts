// The target's shape: the `zeroloss` bookkeeping schema (declared and migrated by
// @zeroloss/bookkeeping), and each target table created from an envelope's column list or
// checked against it. A missing column, a different type or a different key stops the
// consumer with an error naming the table and column: writing into a table that does not
// hold what the source sends would lose data silently.
//
// Each target table gets one hidden column, `_zeroloss_lsn pg_lsn`: the LSN of the change
// that last wrote the row (DESIGN.md invariant 4). A side table keyed by the row's key was
// measured first and costs too much: the LSN-guarded merge of 1,000,000 rows took 2.85 s
// with the hidden column and 9.9 s through a side table (bench/consumer/sql-path.mjs,
// bench/README.md). Deleted rows have no row left to carry their LSN, so deletes leave a
// tombstone in zeroloss.tombstones (a replayed older insert must not bring the row back),
// and a truncate leaves its LSN in zeroloss.truncations.
import { BOOKKEEPING_LOCK, LSN_COLUMN, migrateBookkeeping, STAGING_PREFIX, TARGET_SHAPES } from "@zeroloss/bookkeeping";
import { ZerolossError, type ErrorCode } from "@zeroloss/errors";
import {
  inTransaction,
  missingTargetPrivileges,
  pgBool,
  privilegeError,
  query,
  quoteIdent,
  quoteTable,
  readTargetTable,
  resolveTypeNames,
  widens,
  type AppliedStep,
  type Client,
  type TableName,
} from "@zeroloss/pg";
import type { EnvelopeColumn } from "@zeroloss/wire";

// The hidden column and the staging prefix are declared in @zeroloss/bookkeeping (zeroloss
// check reads them too); the consumer's modules keep importing them from here.
export { LSN_COLUMN, STAGING_PREFIX };

/** Serialises DDL of consumer processes starting at once: the target tables' and the bookkeeping's migrations share one key. */
const DDL_LOCK = BOOKKEEPING_LOCK;

/** A target table that does not fit the source's columns or key; never retriable (the catalog says so): it takes a change in the target. */
export class TargetSchemaError extends ZerolossError {
  declare readonly code: Extract<ErrorCode, `TARGET_${string}`>;

  constructor(code: Extract<ErrorCode, `TARGET_${string}`>, message: string, details: Record<string, unknown>) {
    super(code, message, { details });
  }
}

export interface TargetColumn {
  /** The envelope's name of the column (and the staging table's). */
  readonly name: string;
  /** The target table's name of it: the same, except for a record older than a RENAME COLUMN the target went through. */
  readonly column: string;
  /** format_type() as the target prints it; equal to the envelope's type. */
  readonly type: string;
}

export interface TargetTable extends TableName {
  /** `"schema"."table"`, quoted; also the table's name in zeroloss.tombstones and zeroloss.truncations. */
  readonly quoted: string;
  readonly columns: readonly TargetColumn[];
  /** Indexes into columns of the key columns, in column order. */
  readonly keyIndexes: readonly number[];
  /** JSON.stringify of the envelope column list it was prepared from: later envelopes must match. */
  readonly columnsJson: string;
}

/**
 * Creates or upgrades the bookkeeping schema `zeroloss` (its numbered migrations live in
 * @zeroloss/bookkeeping, which the verifier reads it through); refuses with
 * SCHEMA_NEWER_THAN_CODE a schema a newer release migrated. `onApplied` hears of each step.
 */
export async function ensureBookkeeping(client: Client, onApplied?: (step: AppliedStep) => void): Promise<void> {
  await migrateBookkeeping(client, onApplied);
}

function describe(t: TableName): string {
  return `${t.schema}.${t.name}`;
}

/**
 * Types named by an envelope, as the target's format_type() prints them: types the target
 * does not have are one error naming every such column. The type text from a Kafka record never
 * reaches DDL itself; only the target's own rendering of the type it resolved to does.
 */
async function resolveTypes(client: Client, table: TableName, columns: readonly EnvelopeColumn[]): Promise<string[]> {
  const resolved = await resolveTypeNames(client, columns, `resolving the column types of ${describe(table)} in the target`);
  // Every column at fault in one error: an operator creates the missing types in one pass.
  const wrong = columns.flatMap((c, i) => (resolved[i] === c.type ? [] : [{ column: c.name, type: c.type, resolved: resolved[i] ?? null }]));
  const first = wrong[0];
  if (first !== undefined) {
    const what = wrong.map((w) => `column ${w.column} has type ${w.type} in the source, which the target database ${w.resolved === null ? "does not have" : `resolves to ${w.resolved}`}`);
    throw new TargetSchemaError(
      "TARGET_TYPE_UNKNOWN",
      `target table ${describe(table)}: ${what.join("; ")}` + (wrong.some((w) => w.resolved === null) ? " (create the types, extensions or domains in the target first)" : ""),
      { table: describe(table), column: first.column, type: first.type, columns: wrong },
    );
  }
  return resolved as string[];
}

/** A table as its name alone says, for a truncate marker (which names no column). */
export function bareTable(table: TableName): TargetTable {
  return { schema: table.schema, name: table.name, quoted: quoteTable(table), columns: [], keyIndexes: [], columnsJson: "[]" };
}

/** target.schemaChanges: apply additive changes and widenings to the target, or stop on any difference. */
export type SchemaChanges = "apply" | "stop";

/**
 * Creates the table when it is missing (same columns, types and primary key, plus the
 * hidden LSN column), or fits an existing one to the column list. With schemaChanges
 * `apply`: a missing column is added, a widening is applied, a column no longer sent loses
 * NOT NULL; anything else (a narrowing, another key) stops with an error naming table and
 * column. With `stop`, any difference stops. `changes` collects what was altered, for the log.
 */
export async function prepareTable(
  client: Client,
  table: TableName,
  columns: readonly EnvelopeColumn[],
  schemaChanges: SchemaChanges = "apply",
  changes: string[] = [],
  lsn: string | null = null,
): Promise<TargetTable> {
  const name = describe(table);
  for (const c of columns) {
    if (c.name === LSN_COLUMN || c.name.startsWith(STAGING_PREFIX)) {
      throw new TargetSchemaError("TARGET_COLUMN_RESERVED", `table ${name}: column ${c.name} uses a name zeroloss reserves in the target (${LSN_COLUMN}, ${STAGING_PREFIX}*)`, {
        table: name,
        column: c.name,
      });
    }
  }
  const keyNames = columns.filter((c) => c.key === true).map((c) => c.name);
  if (keyNames.length === 0) {
    throw new TargetSchemaError("TARGET_NO_KEY", `table ${name}: the envelope names no key column, so rows cannot be matched in the target`, { table: name });
  }
  return inTransaction(client, `the target DDL of ${name}`, async () => {
    const types = await resolveTypes(client, table, columns);
    let existing = await readTargetTable(client, table);
    if (existing !== null) {
      // A table made by someone else: the consumer's role must be allowed to change its rows.
      const privileges = await missingTargetPrivileges(client, [table]);
      if (privileges.missing.length > 0) throw privilegeError("consumer", `target table ${name}`, privileges.role, privileges.missing);
    }
    if (existing === null) {
      const defs = columns.map((c, i) => `${quoteIdent(c.name)} ${types[i] as string}`);
      await query(client, `creating schema ${table.schema} in the target`, `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(table.schema)}`);
      await query(
        client,
        `creating target table ${name}`,
        `CREATE TABLE ${quoteTable(table)} (${defs.join(", ")}, ${quoteIdent(LSN_COLUMN)} pg_lsn, PRIMARY KEY (${keyNames.map(quoteIdent).join(", ")}))`,
      );
      existing = { columns: [...columns.map((c, i) => ({ name: c.name, type: types[i] as string, required: false })), { name: LSN_COLUMN, type: "pg_lsn", required: false }], key: keyNames };
    }
    const byName = new Map(existing.columns.map((c) => [c.name, c]));
    const apply = schemaChanges === "apply";
    const hint = apply ? "" : " (target.schemaChanges is stop: zeroloss changes no existing target table)";
    // The column list the table was last fitted to, and its LSN. A list older than that (a
    // partition still behind the DDL) fits the table as it is: its values fit (the source's
    // table went through the same changes), so types are not compared, and nothing the newer
    // list did is undone.
    const fitted = (
      await query<{ older: boolean | string; columns: unknown }>(
        client,
        `reading the fitted column list of ${name}`,
        `SELECT $2::pg_lsn < lsn AS older, columns FROM ${TARGET_SHAPES.sql} WHERE table_name = $1`,
        [quoteTable(table), lsn ?? "0/0"],
      )
    )[0];
    const older = apply && lsn !== null && pgBool(fitted?.older);
    const fittedColumns: EnvelopeColumn[] = fitted === undefined ? [] : ((typeof fitted.columns === "string" ? JSON.parse(fitted.columns) : fitted.columns) as EnvelopeColumn[]);
    if (apply && !older && fitted !== undefined) {
      // A RENAME COLUMN: a column whose attnum the fitted list knew under another name, which
      // the target still has and the new list no longer sends. Renamed, its values stay.
      const was = fittedColumns;
      for (const c of columns) {
        if (c.attnum === undefined || byName.has(c.name)) continue;
        const old = was.find((w) => w.attnum === c.attnum && w.name !== c.name);
        const have = old === undefined ? undefined : byName.get(old.name);
        if (old === undefined || have === undefined || columns.some((x) => x.name === old.name)) continue;
        await query(client, `renaming column ${old.name} of target table ${name} to ${c.name}`, `ALTER TABLE ${quoteTable(table)} RENAME COLUMN ${quoteIdent(old.name)} TO ${quoteIdent(c.name)}`);
        byName.delete(old.name);
        byName.set(c.name, { ...have, name: c.name });
        existing = { ...existing, key: existing.key.map((k) => (k === old.name ? c.name : k)) };
        changes.push(`renamed ${old.name} → ${c.name}`);
      }
      // The same name under another attnum: dropped (or renamed away) and added again. The
      // target's column holds the old column's values, which rows no change touches would keep.
      for (const c of columns) {
        const old = was.find((w) => w.name === c.name && w.attnum !== undefined && c.attnum !== undefined && w.attnum !== c.attnum);
        if (old === undefined || !byName.has(c.name)) continue;
        throw new TargetSchemaError(
          "TARGET_COLUMN_REPLACED",
          `target table ${name}: column ${c.name} was dropped and added again at the source (attnum ${String(old.attnum)} → ${String(c.attnum)}); ` +
            `the target's ${c.name} still holds the old column's values. Rename or drop it in the target, then restart the consumer`,
          { table: name, column: c.name },
        );
      }
    }
    // For a list older than the fitted one: a column the target knows under a later name.
    const renamedTo = new Map<string, string>();
    if (older && fitted !== undefined) {
      const now = fittedColumns;
      // A producer that re-read this older list after the rename (a restart replays it) found
      // no attnum for the old name in the catalog: then one column the target lacks and one
      // later column of the same type that this list lacks can only be the same column.
      const lacking = (c: EnvelopeColumn) => !byName.has(c.name);
      const laterOnly = (t: string) => now.filter((w) => w.type === t && byName.has(w.name) && !columns.some((x) => x.name === w.name));
      for (const c of columns) {
        if (!lacking(c)) continue;
        let later = c.attnum === undefined ? undefined : now.find((w) => w.attnum === c.attnum && w.name !== c.name);
        if (later === undefined && c.attnum === undefined) {
          const candidates = laterOnly(c.type);
          if (candidates.length === 1 && columns.filter((x) => lacking(x) && x.type === c.type).length === 1) later = candidates[0];
        }
        if (later !== undefined && byName.has(later.name)) renamedTo.set(c.name, later.name);
      }
    }
    for (const [i, c] of columns.entries()) {
      const want = types[i] as string;
      if (renamedTo.has(c.name)) continue;
      const have = byName.get(c.name)?.type;
      if (have === undefined) {
        if (!apply) {
          throw new TargetSchemaError("TARGET_COLUMN_MISSING", `target table ${name} has no column ${c.name} (source type ${c.type}): add it, or let zeroloss create the table${hint}`, {
            table: name,
            column: c.name,
          });
        }
        // A column added at the source. Rows older than it hold NULL there, or the value of a
        // constant default (c.missing): the target's get the same, as its default. Kept as
        // the column's default, it also fills rows a partition still behind the change inserts.
        if (c.missing === undefined) {
          await query(client, `adding column ${c.name} to target table ${name}`, `ALTER TABLE ${quoteTable(table)} ADD COLUMN ${quoteIdent(c.name)} ${want}`);
        } else {
          const ddl = await query<{ sql: string }>(client, `writing the DDL adding column ${c.name} to ${name}`, `SELECT format('ALTER TABLE %s ADD COLUMN %I %s DEFAULT %L::%s', $1::text, $2::text, $3::text, $4::text, $3::text) AS sql`, [
            quoteTable(table),
            c.name,
            want,
            c.missing,
          ]);
          await query(client, `adding column ${c.name} to target table ${name}`, ddl[0]?.sql as string);
        }
        changes.push(`added ${c.name} ${want}${c.missing === undefined ? "" : ` default ${c.missing}`}`);
        continue;
      }
      if (have !== c.type && !older) {
        if (!apply || !widens(have, want)) {
          throw new TargetSchemaError(
            "TARGET_COLUMN_TYPE",
            `target table ${name}: column ${c.name} is ${have} in the target but ${c.type} in the source` +
              (apply ? `; changing it could lose or alter data (only widenings such as integer → bigint or varchar(n) → text are applied): change the target by hand, then restart the consumer` : hint),
            { table: name, column: c.name, targetType: have, sourceType: c.type },
          );
        }
        await query(
          client,
          `widening column ${c.name} of target table ${name} to ${want}`,
          `ALTER TABLE ${quoteTable(table)} ALTER COLUMN ${quoteIdent(c.name)} TYPE ${want} USING ${quoteIdent(c.name)}::${want}`,
        );
        changes.push(`widened ${c.name} ${have} → ${want}`);
      }
    }
    if (apply && !older) {
      // A column the source no longer sends (dropped, or renamed away) stays in the target with
      // its values; new rows leave it NULL, so it may not be NOT NULL any more.
      const sent = new Set(columns.map((c) => c.name));
      for (const c of byName.values()) {
        if (sent.has(c.name) || c.name === LSN_COLUMN || !c.required || existing.key.includes(c.name)) continue;
        await query(client, `letting column ${c.name} of target table ${name} be NULL`, `ALTER TABLE ${quoteTable(table)} ALTER COLUMN ${quoteIdent(c.name)} DROP NOT NULL`);
        changes.push(`${c.name} no longer sent: NOT NULL dropped`);
      }
    }
    const sameKey = existing.key.length === keyNames.length && keyNames.every((k) => existing.key.includes(k));
    if (!sameKey) {
      const column = keyNames.find((k) => !existing.key.includes(k)) ?? existing.key.find((k) => !keyNames.includes(k)) ?? "(none)";
      throw new TargetSchemaError(
        "TARGET_KEY_MISMATCH",
        `target table ${name}: its primary key is (${existing.key.join(", ") || "none"}) but the source's is (${keyNames.join(", ")}); column ${column} differs`,
        { table: name, column, targetKey: existing.key, sourceKey: keyNames },
      );
    }
    if (lsn !== null && !older) {
      // The list, plus the columns the source no longer sends that the target keeps (by their
      // attnum): a column dropped and later added again under its name is then recognised.
      const sent = new Set(columns.map((c) => c.name));
      const attnums = new Set(columns.flatMap((c) => (c.attnum === undefined ? [] : [c.attnum])));
      const kept = fittedColumns.filter((w) => !sent.has(w.name) && (w.attnum === undefined || !attnums.has(w.attnum)) && byName.has(w.name));
      await query(
        client,
        `recording the column list ${name} is fitted to`,
        `INSERT INTO ${TARGET_SHAPES.sql} (table_name, lsn, columns) VALUES ($1, $2::pg_lsn, $3::jsonb)
         ON CONFLICT (table_name) DO UPDATE SET lsn = excluded.lsn, columns = excluded.columns, fitted_at = now() WHERE ${TARGET_SHAPES.sql}.lsn <= excluded.lsn`,
        [quoteTable(table), lsn, JSON.stringify([...columns, ...kept])],
      );
    }
    const lsnType = byName.get(LSN_COLUMN)?.type;
    if (lsnType === undefined) {
      await query(client, `adding ${LSN_COLUMN} to target table ${name}`, `ALTER TABLE ${quoteTable(table)} ADD COLUMN ${quoteIdent(LSN_COLUMN)} pg_lsn`);
    } else if (lsnType !== "pg_lsn") {
      throw new TargetSchemaError("TARGET_COLUMN_TYPE", `target table ${name}: column ${LSN_COLUMN} is ${lsnType}; zeroloss keeps each row's applied LSN there as pg_lsn`, {
        table: name,
        column: LSN_COLUMN,
      });
    }
    return {
      schema: table.schema,
      name: table.name,
      quoted: quoteTable(table),
      columns: columns.map((c, i) => ({ name: c.name, column: renamedTo.get(c.name) ?? c.name, type: types[i] as string })),
      keyIndexes: columns.flatMap((c, i) => (c.key === true ? [i] : [])),
      columnsJson: JSON.stringify(columns),
    };
  }, { advisoryLock: DDL_LOCK });
}
