// Setting the target's sequences from the source's (`zeroloss sequences sync`, and the
// cutover after it): read the source's sequences that follow the replicated tables in one
// REPEATABLE READ READ ONLY transaction, then read, plan and set the target's in one
// transaction. sequence-plan.ts decides; this module reads and writes.
//
// setval() is not transactional: PostgreSQL does not undo it when its transaction rolls
// back. "All or nothing" therefore comes from deciding everything first (every sequence
// found, every privilege held, every value in range) and calling setval only then; a
// connection lost half-way can leave some set and others not, and as setval here only moves
// a sequence forward, running the sync again finishes the job.
import { ZerolossError } from "@zeroloss/errors";
import type pg from "pg";
import { pgBool } from "./booleans.js";
import { qualifiedName, quoteTable, resolveTables, SYSTEM_SCHEMAS, type TableName } from "./catalog.js";
import { query } from "./connect.js";
import { missingSequencePrivileges, privilegeError } from "./privileges.js";
import { chooseSequences, planSequenceSync, sequenceSyncErrors, type SequenceFacts, type SequencePlan, type SequenceReading } from "./sequence-plan.js";
import { inTransaction } from "./transaction.js";

/** A sequence's facts with its oid in the database they were read from. */
interface CatalogSequence extends SequenceFacts {
  readonly oid: string;
}

/** The tables and standalone sequences to follow: source.tables and source.exclude. */
export interface SequenceChoice {
  readonly include: readonly string[];
  readonly exclude: readonly string[];
}

export interface SourceSequences {
  /** The replicated tables, as resolveTables picks them. */
  readonly tables: readonly TableName[];
  /** The sequences that follow them, with their state when read. */
  readonly sequences: readonly SequenceReading[];
  /** `schema.name` of every sequence of the source, chosen or not. */
  readonly allNames: ReadonlySet<string>;
}

interface TableRef {
  readonly schema: string;
  readonly name: string;
}

function isTableRefList(v: unknown): v is TableRef[] {
  return Array.isArray(v) && v.every((t: unknown) => typeof t === "object" && t !== null && typeof (t as TableRef).schema === "string" && typeof (t as TableRef).name === "string");
}

/**
 * Every sequence in the user's schemas: increment and bounds (pg_sequence), the column that
 * owns it (pg_depend: 'a' for serial and OWNED BY, 'i' for identity) and the tables whose
 * column defaults call it (pg_depend from pg_attrdef).
 */
async function readCatalogSequences(client: pg.Client, what: string): Promise<CatalogSequence[]> {
  const rows = await query<{
    oid: string;
    schema: string;
    name: string;
    increment: string;
    min: string;
    max: string;
    owner_schema: string | null;
    owner_table: string | null;
    owner_column: string | null;
    used_by: string;
  }>(
    client,
    what,
    `SELECT s.oid::text AS oid, n.nspname AS schema, s.relname AS name,
            q.seqincrement::text AS increment, q.seqmin::text AS min, q.seqmax::text AS max,
            o.schema AS owner_schema, o.tbl AS owner_table, o.col AS owner_column,
            coalesce((SELECT json_agg(DISTINCT jsonb_build_object('schema', un.nspname, 'name', ut.relname))
                        FROM pg_depend d JOIN pg_attrdef ad ON ad.oid = d.objid
                        JOIN pg_class ut ON ut.oid = ad.adrelid JOIN pg_namespace un ON un.oid = ut.relnamespace
                       WHERE d.classid = 'pg_attrdef'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = s.oid), '[]')::text AS used_by
       FROM pg_class s
       JOIN pg_namespace n ON n.oid = s.relnamespace
       JOIN pg_sequence q ON q.seqrelid = s.oid
       LEFT JOIN LATERAL (
         SELECT tn.nspname AS schema, t.relname AS tbl, a.attname AS col
           FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
           JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
          WHERE d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.refclassid = 'pg_class'::regclass
            AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
          LIMIT 1) o ON true
      WHERE s.relkind = 'S' AND NOT n.nspname = ANY($1::text[]) AND n.nspname NOT LIKE 'pg_temp%'
      ORDER BY 2, 3`,
    [SYSTEM_SCHEMAS],
  );
  return rows.map((r) => {
    const usedBy: unknown = JSON.parse(r.used_by);
    if (!isTableRefList(usedBy)) throw new ZerolossError("PG_FAILED", `${what}: the tables using sequence ${r.schema}.${r.name} came back as ${r.used_by}`);
    return {
      oid: r.oid,
      schema: r.schema,
      name: r.name,
      increment: BigInt(r.increment),
      min: BigInt(r.min),
      max: BigInt(r.max),
      ownedBy: r.owner_schema === null || r.owner_table === null || r.owner_column === null ? null : { table: { schema: r.owner_schema, name: r.owner_table }, column: r.owner_column },
      usedBy: usedBy.map((t) => ({ schema: t.schema, name: t.name })),
    };
  });
}

/** Each sequence's last_value and is_called, read from the sequence relation itself. */
async function readStates(client: pg.Client, sequences: readonly CatalogSequence[], side: string): Promise<SequenceReading[]> {
  const out: SequenceReading[] = [];
  for (const s of sequences) {
    const rows = await query<{ last_value: string; is_called: unknown }>(
      client,
      `reading sequence ${qualifiedName(s)} on the ${side}`,
      `SELECT last_value::text AS last_value, is_called FROM ${quoteTable(s)}`,
    );
    const r = rows[0];
    if (r === undefined) throw new ZerolossError("PG_FAILED", `reading sequence ${qualifiedName(s)} on the ${side} returned no row`);
    out.push({ ...s, lastValue: BigInt(r.last_value), isCalled: pgBool(r.is_called) });
  }
  return out;
}

async function requireSequencePrivilege(client: pg.Client, sequences: readonly TableName[], privilege: "SELECT" | "UPDATE", side: string): Promise<void> {
  const { role, missing } = await missingSequencePrivileges(client, sequences, privilege);
  if (missing.length > 0) throw privilegeError("sequence sync", `the ${side}`, role, missing);
}

/**
 * The source's tables (source.tables minus source.exclude) and the sequences that follow them
 * (chooseSequences), each with its state, read in one REPEATABLE READ READ ONLY transaction:
 * one catalog for tables and sequences. A sequence's state is not under the snapshot (nextval
 * is not transactional), so each value is the one at its read; writes that go on at the source
 * afterwards are what `margin` is for.
 */
export async function readSourceSequences(client: pg.Client, choice: SequenceChoice): Promise<SourceSequences> {
  return inTransaction(
    client,
    "reading the source's sequences",
    async () => {
      const tables = await resolveTables(client, choice.include, choice.exclude);
      const all = await readCatalogSequences(client, "listing the source's sequences");
      const chosen = chooseSequences(all, tables, choice.include, choice.exclude);
      await requireSequencePrivilege(client, chosen, "SELECT", "source");
      return { tables, sequences: await readStates(client, chosen, "source"), allNames: new Set(all.map(qualifiedName)) };
    },
    { begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" },
  );
}

export interface SequenceSyncOptions {
  /** Added to the source's next value (in the sequence's direction), room for what the source hands out meanwhile. */
  readonly margin: bigint;
  /** Plan only: the target's transaction is READ ONLY and no setval runs. */
  readonly dryRun: boolean;
}

export interface SequenceSyncResult {
  readonly plan: SequencePlan;
  /** setval ran for every "set" row (false on a dry run, and when the plan has errors). */
  readonly applied: boolean;
  /** What keeps the target from being in sync (sequenceSyncErrors); none: in sync after the run. */
  readonly errors: readonly ZerolossError[];
}

/**
 * Reads the target's sequences of the source's names (and those of the replicated tables the
 * source has no sequence of any name for), plans, and, unless a dry run or the plan has
 * errors, sets every sequence behind, all in one transaction. Missing privileges
 * (PG_PRIVILEGE_MISSING) are raised on a dry run too: it says what the real run would do.
 * The target's sequences are assumed not to be drawn from meanwhile (at cutover, before the
 * application moves; while streaming, the consumer writes explicit values and draws none):
 * one drawn between the read and the setval could be set back behind the value it handed out.
 */
export async function syncTargetSequences(client: pg.Client, source: SourceSequences, options: SequenceSyncOptions): Promise<SequenceSyncResult> {
  return inTransaction(
    client,
    options.dryRun ? "reading the target's sequences" : "setting the target's sequences",
    async () => {
      const all = await readCatalogSequences(client, "listing the target's sequences");
      const byName = new Map(all.map((s) => [qualifiedName(s), s]));
      const same = source.sequences.flatMap((s) => byName.get(qualifiedName(s)) ?? []);
      const extra = chooseSequences(all, source.tables, [], []).filter((s) => !source.allNames.has(qualifiedName(s)));
      const present = [...same, ...extra];
      await requireSequencePrivilege(client, present, "SELECT", "target");
      const plan = planSequenceSync(source.sequences, await readStates(client, present, "target"), options.margin);
      const errors = sequenceSyncErrors(plan);
      if (errors.length > 0) return { plan, applied: false, errors };
      const toSet = plan.rows.filter((r) => r.action === "set");
      await requireSequencePrivilege(client, toSet, "UPDATE", "target");
      if (options.dryRun) return { plan, applied: false, errors };
      for (const r of toSet) {
        const s = byName.get(qualifiedName(r));
        if (s === undefined || r.newTargetNext === null) throw new ZerolossError("UNEXPECTED", `sequence ${qualifiedName(r)} was planned to be set but is not on the target`);
        // is_called false: the next nextval() returns exactly this value.
        await query(client, `setting sequence ${qualifiedName(r)} on the target`, "SELECT setval($1::oid::regclass, $2::bigint, false)", [s.oid, r.newTargetNext.toString()]);
      }
      return { plan, applied: true, errors };
    },
    { begin: options.dryRun ? "BEGIN READ ONLY" : "BEGIN" },
  );
}
