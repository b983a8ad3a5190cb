// Foreign-key validation for the cutover. The consumer writes with session_replication_role
// replica, so the target's foreign keys are not checked while the stream runs: a row can be
// applied before its parent, and a row whose parent the source deleted (or never had) stays.
// Before the target takes over, every key is checked here the way PostgreSQL would check it
// on an insert, and each one is reported with how many rows break it and a few of them.
//
// The check is an anti-join, one statement per key (so count and sample come from one
// snapshot): rows of the referencing table for which NOT EXISTS a referenced row equal on
// every column pair. Which rows are checked at all follows the key's MATCH type, as in
// PostgreSQL's RI triggers: MATCH SIMPLE skips a row with any NULL among the referencing
// columns; MATCH FULL skips a row only when all of them are NULL, and a row with some but
// not all NULL is a violation (its NULL column matches nothing, so the anti-join keeps it).
// Equality is the plain `=` between the two columns' types, the operator PostgreSQL picks
// for the key in every ordinary case.
import type pg from "pg";
import { quoteIdent } from "@zeroloss/checksum";
import { qualifiedName, quoteTable, type TableName } from "./catalog.js";
import { query } from "./connect.js";
import { readForeignKeys, type ForeignKey } from "./foreign-keys.js";

export interface ForeignKeyOrphanOptions {
  /** How many orphan rows to return as examples (default 5; 0 for none). */
  readonly sampleLimit?: number;
}

export interface ForeignKeyOrphans {
  /** Rows of the referencing table that break the key. */
  readonly orphans: number;
  /**
   * Up to sampleLimit of them: each row's referencing columns by name, as text. A value is
   * null only under MATCH FULL, in a row that has some referencing columns NULL and not all.
   */
  readonly sample: Record<string, string | null>[];
}

export interface ForeignKeyValidation extends ForeignKeyOrphans {
  readonly foreignKey: ForeignKey;
  /** orphans === 0. A NOT VALID key (foreignKey.validated false) can be ok too. */
  readonly ok: boolean;
}

const DEFAULT_SAMPLE_LIMIT = 5;

/** Counts the rows of fk.table that have no referenced row in fk.references, with a sample. */
export async function countForeignKeyOrphans(client: pg.Client, fk: ForeignKey, options: ForeignKeyOrphanOptions = {}): Promise<ForeignKeyOrphans> {
  const limit = options.sampleLimit ?? DEFAULT_SAMPLE_LIMIT;
  if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`sampleLimit must be a whole number of rows, 0 or more (got ${limit})`);
  if (fk.columns.length === 0 || fk.columns.length !== fk.referencedColumns.length) {
    throw new RangeError(`foreign key ${fk.name} on ${qualifiedName(fk.table)}: ${fk.columns.length} referencing columns against ${fk.referencedColumns.length} referenced`);
  }
  const child = fk.columns.map((c) => `c.${quoteIdent(c)}`);
  const matches = fk.referencedColumns.map((r, i) => `p.${quoteIdent(r)} = ${child[i] ?? ""}`).join(" AND ");
  const checked = fk.matchFull ? `NOT (${child.map((c) => `${c} IS NULL`).join(" AND ")})` : child.map((c) => `${c} IS NOT NULL`).join(" AND ");
  // Positional aliases: a referencing column may be called anything, "n" included.
  const values = child.map((c, i) => `${c}::text AS v${i}`).join(", ");
  // count(*) OVER () is computed before LIMIT, over every orphan; at least one row is read so
  // the count arrives even when no sample is asked for.
  const rows = await query<Record<string, string | null> & { n: string }>(
    client,
    `counting the rows of ${qualifiedName(fk.table)} that break foreign key ${fk.name} (references ${qualifiedName(fk.references)})`,
    `SELECT ${values}, count(*) OVER () AS n
       FROM ${quoteTable(fk.table)} AS c
      WHERE ${checked}
        AND NOT EXISTS (SELECT 1 FROM ${quoteTable(fk.references)} AS p WHERE ${matches})
      LIMIT ${Math.max(limit, 1)}`,
  );
  const orphans = rows[0] === undefined ? 0 : Number(rows[0].n);
  const sample = rows.slice(0, limit).map((r) => Object.fromEntries(fk.columns.map((name, i) => [name, r[`v${i}`] ?? null])));
  return { orphans, sample };
}

/**
 * Checks every foreign key readForeignKeys finds for `tables`: the keys the tables carry and
 * also the keys of tables outside the set that reference one of them, since those rows can
 * point at rows the migration deleted or has not brought over. In readForeignKeys' order.
 */
export async function validateForeignKeys(client: pg.Client, tables: readonly TableName[], options: ForeignKeyOrphanOptions = {}): Promise<ForeignKeyValidation[]> {
  const out: ForeignKeyValidation[] = [];
  for (const foreignKey of await readForeignKeys(client, tables)) {
    const found = await countForeignKeyOrphans(client, foreignKey, options);
    out.push({ foreignKey, ...found, ok: found.orphans === 0 });
  }
  return out;
}
