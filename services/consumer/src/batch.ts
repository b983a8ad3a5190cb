// Turns the records of one fetched partition batch into a plan for the target: which
// records are malformed (and why), and, in offset order, segments of rows per target table,
// cut at every truncate. Pure: no I/O except resolving a table through the callback.
//
// Malformed means the record cannot be what it claims to be: not JSON, an unknown version,
// fields missing, or a key that disagrees with the key columns of its value. Such records
// are quarantined and sent to the DLQ; they never stop the stream.
import { UNCHANGED, type CellValue } from "@zeroloss/checksum";
import { isZerolossError, type ErrorCode } from "@zeroloss/errors";
import type { EnvelopeReader } from "@zeroloss/avro";
import { RowJson, type BulkRows, type Envelope, type Row, type TopicNames } from "@zeroloss/wire";
import type { TargetTable } from "./target-schema.js";

export interface InputRecord {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}

export interface Malformed {
  readonly index: number;
  readonly code: ErrorCode;
  readonly reason: string;
  readonly table: string | null;
}

/** One record staged for a table. Values are in the table's column order. */
export interface StagedRow {
  readonly index: number;
  readonly key: string;
  readonly env: Envelope;
  readonly values: readonly (string | null)[];
  readonly unchanged: readonly number[] | null;
  readonly absent: readonly number[] | null;
  /** Columns to keep from the stored row (0-based). */
  readonly keep: readonly number[] | null;
  /** The earlier record of this batch whose values filled unchanged columns. */
  readonly filledFrom: number | null;
  last: boolean;
}

/** A bulk snapshot record (its rows travel as COPY text, never decoded here). */
export interface BulkRecord {
  readonly index: number;
  readonly env: Envelope & { readonly rows: BulkRows };
}

export type Step =
  | { readonly kind: "rows"; readonly table: TargetTable; readonly rows: StagedRow[] }
  /** Bulk records of one table, in offset order; never in the same step as single rows. */
  | { readonly kind: "bulk"; readonly table: TargetTable; readonly records: BulkRecord[] }
  | { readonly kind: "truncate"; readonly table: TargetTable; readonly index: number; readonly lsn: string };

export interface BatchPlan {
  readonly records: readonly InputRecord[];
  readonly envelopes: readonly (Envelope | null)[];
  readonly malformed: readonly Malformed[];
  readonly steps: readonly Step[];
}

export type ResolveTable = (env: Envelope) => Promise<TargetTable>;

class RowsStep {
  readonly rows: StagedRow[] = [];
  /** Per key: the row's latest values in this segment (undefined: keep the stored one). */
  private readonly current = new Map<string, { values: (string | null | undefined)[]; index: number }>();
  private readonly keyJson: RowJson;

  constructor(readonly table: TargetTable) {
    this.keyJson = new RowJson(table.keyIndexes.map((i) => table.columns[i]?.name as string));
  }

  /** The canonical key of a row, as the producer wrote the Kafka key. */
  keyOf(row: Row | null): string {
    const cols = this.table.columns;
    return this.keyJson.of(
      this.table.keyIndexes.map((i): CellValue => {
        const name = (cols[i] as TargetTable["columns"][number]).name;
        return row !== null && Object.hasOwn(row, name) ? (row[name] ?? null) : UNCHANGED;
      }),
    );
  }

  add(index: number, env: Envelope, key: string): void {
    const cols = this.table.columns;
    if (env.op === "d") {
      const before = env.before ?? {};
      const values: (string | null)[] = [];
      const absent: number[] = [];
      cols.forEach((c, i) => {
        if (Object.hasOwn(before, c.name)) values.push(before[c.name] ?? null);
        else {
          values.push(null);
          absent.push(i + 1);
        }
      });
      this.current.delete(key);
      this.rows.push({ index, key, env, values, unchanged: null, absent: absent.length > 0 ? absent : null, keep: null, filledFrom: null, last: false });
      return;
    }
    const after = env.after ?? {};
    const unchangedNames = env.unchanged ?? [];
    const prev = this.current.get(key);
    const values: (string | null)[] = [];
    const next: (string | null | undefined)[] = [];
    let unchanged: number[] | null = null;
    let keep: number[] | null = null;
    let filledFrom: number | null = null;
    cols.forEach((c, i) => {
      if (unchangedNames.length > 0 && unchangedNames.includes(c.name)) {
        (unchanged ??= []).push(i + 1);
        const known = prev?.values[i];
        if (known !== undefined && prev !== undefined) {
          values.push(known);
          next.push(known);
          filledFrom = prev.index;
        } else {
          values.push(null);
          next.push(undefined);
          (keep ??= []).push(i + 1);
        }
      } else {
        const v = after[c.name] ?? null;
        values.push(v);
        next.push(v);
      }
    });
    this.current.set(key, { values: next, index });
    this.rows.push({ index, key, env, values, unchanged, absent: null, keep, filledFrom, last: false });
  }

  finish(): void {
    const lastOf = new Map<string, StagedRow>();
    for (const r of this.rows) lastOf.set(r.key, r);
    for (const r of lastOf.values()) r.last = true;
  }
}

function malformed(index: number, code: ErrorCode, reason: string, env: Envelope | null): Malformed {
  return { index, code, reason, table: env === null ? null : `${env.source.schema}.${env.source.table}` };
}

export interface PlanContext {
  readonly topics: TopicNames;
  /** One per consumer: it keeps the column lists (and Avro schemas) it has read. */
  readonly decoder: EnvelopeReader;
  readonly resolve: ResolveTable;
}

export async function planBatch(topic: string, partition: number, records: readonly InputRecord[], ctx: PlanContext): Promise<BatchPlan> {
  const { topics, decoder, resolve } = ctx;
  await decoder.load(records.map((r) => r.value));
  const envelopes: (Envelope | null)[] = [];
  const bad: Malformed[] = [];
  const steps: Step[] = [];
  let open = new Map<TargetTable, RowsStep>();
  const close = () => {
    for (const s of open.values()) {
      s.finish();
      steps.push({ kind: "rows", table: s.table, rows: s.rows });
    }
    open = new Map();
  };
  // The table of the previous record: a partition's records are nearly always of one table.
  let last: { schema: string; name: string; topic: string; table: TargetTable | null } | null = null;
  for (let index = 0; index < records.length; index++) {
    const rec = records[index] as InputRecord;
    let env: Envelope;
    try {
      env = decoder.decode(rec.value);
    } catch (err) {
      if (!isZerolossError(err) || err.retriable) throw err;
      envelopes.push(null);
      bad.push(malformed(index, err.code, err.message, null));
      continue;
    }
    envelopes.push(env);
    const { schema, table: name } = env.source;
    if (last === null || last.schema !== schema || last.name !== name) {
      const expectedTopic = topics.data(schema, name);
      last = { schema, name, topic: expectedTopic, table: expectedTopic === topic ? await resolve(env) : null };
    } else if (env.op !== "t" && last.table !== null && decoder.columnsJson(env) !== last.table.columnsJson) {
      // The source's columns changed (DDL): the rows before the change are applied first,
      // then the target table is fitted to the new list (target.schemaChanges) for the rest.
      close();
      last = { schema, name, topic: last.topic, table: await resolve(env) };
    }
    const table = last.table;
    if (table === null) {
      bad.push(malformed(index, "WIRE_WRONG_TOPIC", `a record of table ${schema}.${name} belongs in topic ${last.topic}, not ${topic}`, env));
      continue;
    }
    if (env.rows !== undefined) {
      if (rec.key !== null) {
        bad.push(malformed(index, "WIRE_KEY_MISMATCH", "a bulk snapshot record carries a Kafka key; its rows carry their own", env));
        continue;
      }
      if (env.partition !== partition) {
        bad.push(malformed(index, "WIRE_KEY_MISMATCH", `a bulk snapshot record for partition ${String(env.partition)} arrived in partition ${partition}`, env));
        continue;
      }
      // Applied after the single rows before it and before those after it (they may update its rows).
      close();
      const prev = steps[steps.length - 1];
      const bulk: BulkRecord = { index, env: env as BulkRecord["env"] };
      if (prev?.kind === "bulk" && prev.table === table) prev.records.push(bulk);
      else steps.push({ kind: "bulk", table, records: [bulk] });
      continue;
    }
    if (env.op === "t") {
      if (rec.key !== null) {
        bad.push(malformed(index, "WIRE_KEY_MISMATCH", "a truncate record carries a key; truncates have none", env));
        continue;
      }
      if (env.partition !== partition) {
        bad.push(malformed(index, "WIRE_KEY_MISMATCH", `a truncate record for partition ${String(env.partition)} arrived in partition ${partition}`, env));
        continue;
      }
      close();
      steps.push({ kind: "truncate", table, index, lsn: env.source.lsn });
      continue;
    }
    let step = open.get(table);
    if (step === undefined) {
      step = new RowsStep(table);
      open.set(table, step);
    }
    const row = env.op === "d" ? env.before : env.after;
    const key = step.keyOf(row);
    const got = rec.key?.toString("utf8") ?? null;
    if (got !== key) {
      bad.push(malformed(index, "WIRE_KEY_MISMATCH", `the record's Kafka key ${got === null ? "is missing" : JSON.stringify(got)} but its ${env.op === "d" ? "before" : "after"} row has the key ${key}`, env));
      continue;
    }
    step.add(index, env, key);
  }
  close();
  return { records, envelopes, malformed: bad, steps };
}

/**
 * Plans of several partitions as one: their records one after the other (a plan's record i
 * is the merged record bases[k] + i), one rows step per table, then the bulk steps. Only
 * plans GroupKeys let share a transaction may be merged (no truncate, no keys that meet, no
 * plan with bulk and single rows of one table): then the order between them does not matter,
 * as Kafka guarantees none between partitions either.
 */
export function mergePlans(plans: readonly BatchPlan[]): { plan: BatchPlan; bases: number[] } {
  const only = plans[0];
  if (plans.length === 1 && only !== undefined) return { plan: only, bases: [0] };
  const records: InputRecord[] = [];
  const envelopes: (Envelope | null)[] = [];
  const bad: Malformed[] = [];
  const rowsOf = new Map<TargetTable, StagedRow[]>();
  const bulkSteps: Step[] = [];
  const bases: number[] = [];
  for (const p of plans) {
    const base = records.length;
    bases.push(base);
    for (const r of p.records) records.push(r);
    for (const e of p.envelopes) envelopes.push(e);
    for (const m of p.malformed) bad.push({ ...m, index: m.index + base });
    for (const s of p.steps) {
      if (s.kind === "truncate") throw new Error(`a plan with a truncate of ${s.table.quoted} cannot share a transaction`);
      if (s.kind === "bulk") {
        bulkSteps.push({ kind: "bulk", table: s.table, records: s.records.map((r) => ({ ...r, index: r.index + base })) });
        continue;
      }
      let rows = rowsOf.get(s.table);
      if (rows === undefined) rowsOf.set(s.table, (rows = []));
      for (const r of s.rows) rows.push({ ...r, index: r.index + base, filledFrom: r.filledFrom === null ? null : r.filledFrom + base });
    }
  }
  const steps: Step[] = [...[...rowsOf].map(([table, rows]): Step => ({ kind: "rows", table, rows })), ...bulkSteps];
  return { plan: { records, envelopes, malformed: bad, steps }, bases };
}

/**
 * The keys of the plans gathered for one transaction, per table. A plan joins only when
 * none of its keys is there yet: one key in two partitions (the topic's partitions were
 * added to) must be merged one partition after the other, never in one statement.
 */
export class GroupKeys {
  /** Per target table (by name: a table may appear in two column lists around a DDL), the keys joined. */
  private readonly keys = new Map<string, Set<string>>();
  private plans = 0;
  /** Set once a plan that must be alone (it truncates) joined. */
  private closed = false;
  /** Tables with bulk records joined: their keys are not known here, so no other plan with the table may join. */
  private readonly bulkTables = new Set<string>();

  /** Adds the plan's keys and returns true, or returns false and adds nothing. */
  join(plan: BatchPlan): boolean {
    if (this.closed) return false;
    // Alone, like a truncate: a plan with both bulk records and single rows of one table, whose
    // order mergePlans would not keep (a streamed change after the snapshot rows it updates).
    const alone = plan.steps.some((s) => s.kind === "truncate") || mixesBulkAndRows(plan);
    if (alone && this.plans > 0) return false;
    for (const s of plan.steps) {
      if (s.kind === "truncate") continue;
      if (this.bulkTables.has(s.table.quoted)) return false;
      const seen = this.keys.get(s.table.quoted);
      if (s.kind === "bulk" && seen !== undefined) return false;
      if (seen !== undefined && s.kind === "rows" && s.rows.some((r) => seen.has(r.key))) return false;
    }
    for (const s of plan.steps) {
      if (s.kind === "bulk") this.bulkTables.add(s.table.quoted);
      if (s.kind !== "rows") continue;
      let seen = this.keys.get(s.table.quoted);
      if (seen === undefined) this.keys.set(s.table.quoted, (seen = new Set()));
      for (const r of s.rows) seen.add(r.key);
    }
    this.plans++;
    this.closed = alone;
    return true;
  }
}

/** Whether a plan holds bulk records and single rows of the same table. */
function mixesBulkAndRows(plan: BatchPlan): boolean {
  const bulk = new Set(plan.steps.flatMap((s) => (s.kind === "bulk" ? [s.table.quoted] : [])));
  return plan.steps.some((s) => s.kind === "rows" && bulk.has(s.table.quoted));
}
