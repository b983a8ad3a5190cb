// What `zeroloss sequences sync` does to each target sequence, decided by pure functions over
// what the two catalogs say, so every case is unit-tested without a database. Logical
// replication carries rows, never sequence state: a target filled by the pipeline holds the
// source's ids while its own sequences still stand where they were created, and the first
// insert there that takes a default collides with a replicated row.
//
// Positions are compared as the value nextval() would return next, not as last_value: a
// sequence that was never called (is_called false) hands out last_value itself, one that
// was hands out last_value + increment. Comparing the next values treats both alike, and
// setval(seq, next, false) sets exactly that.
import { ZerolossError } from "@zeroloss/errors";
import { matchesPattern, qualifiedName, quoteTable, type TableName } from "./catalog.js";

/** A sequence as its database's catalog describes it. */
export interface SequenceFacts extends TableName {
  readonly increment: bigint;
  readonly min: bigint;
  readonly max: bigint;
  /** The column that owns it (serial, identity, OWNED BY); null for a standalone sequence. */
  readonly ownedBy: { readonly table: TableName; readonly column: string } | null;
  /** The tables whose column defaults call it (DEFAULT nextval('…')). */
  readonly usedBy: readonly TableName[];
}

/** A sequence's facts and its state when read (the sequence relation's last_value, is_called). */
export interface SequenceReading extends SequenceFacts {
  readonly lastValue: bigint;
  readonly isCalled: boolean;
}

export type SequenceAction = "set" | "in sync" | "already ahead" | "out of range" | "missing on target" | "not on source";

export interface SequenceSyncRow extends TableName {
  /** `schema.table.column` of the owning column, when one owns it (on the source, else on the target). */
  readonly ownedBy: string | null;
  /** What nextval() gives next on the source; null when the source has no such sequence. */
  readonly sourceNext: bigint | null;
  /** What nextval() gives next on the target before the sync; null when the target has no such sequence. */
  readonly targetNext: bigint | null;
  /** What nextval() gives next on the target after the sync: the value set, or the one kept; null when nothing can be set. */
  readonly newTargetNext: bigint | null;
  readonly action: SequenceAction;
  /** For a person: why the action, when it is not plain. */
  readonly note: string | null;
}

export interface SequencePlan {
  readonly margin: bigint;
  /** One row per sequence, sorted by schema and name. */
  readonly rows: readonly SequenceSyncRow[];
}

function ownerText(s: SequenceFacts): string | null {
  return s.ownedBy === null ? null : `${qualifiedName(s.ownedBy.table)}.${s.ownedBy.column}`;
}

/**
 * The sequences that follow the replicated tables: those owned by a column of one (serial,
 * identity, OWNED BY), those a column default of one calls (a sequence shared by several
 * tables, owned by none or by another), and standalone sequences (owned by no column) whose
 * own schema.name matches `include` and not `exclude`: numbers an application draws with
 * nextval() in code, the same as the tables' patterns would pick them. A sequence owned by a
 * table that is not replicated is left out, whatever its name: it goes with its table.
 */
export function chooseSequences<S extends SequenceFacts>(all: readonly S[], tables: readonly TableName[], include: readonly string[], exclude: readonly string[]): S[] {
  const chosen = new Set(tables.map(qualifiedName));
  return all.filter((s) => {
    if (s.ownedBy !== null && chosen.has(qualifiedName(s.ownedBy.table))) return true;
    if (s.usedBy.some((t) => chosen.has(qualifiedName(t)))) return true;
    return s.ownedBy === null && include.some((p) => matchesPattern(s, p)) && !exclude.some((p) => matchesPattern(s, p));
  });
}

/** The value nextval() returns next. */
export function nextValue(s: Pick<SequenceReading, "lastValue" | "isCalled" | "increment">): bigint {
  return s.isCalled ? s.lastValue + s.increment : s.lastValue;
}

function byName(a: TableName, b: TableName): number {
  return a.schema < b.schema ? -1 : a.schema > b.schema ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** One source sequence against the target's sequence of the same name. */
function planOne(source: SequenceReading, target: SequenceReading | undefined, margin: bigint): SequenceSyncRow {
  const sourceNext = nextValue(source);
  const base = { schema: source.schema, name: source.name, ownedBy: ownerText(source) ?? (target === undefined ? null : ownerText(target)), sourceNext };
  if (target === undefined) {
    return { ...base, targetNext: null, newTargetNext: null, action: "missing on target", note: "the target has no sequence of this name" };
  }
  const targetNext = nextValue(target);
  // "Ahead" follows the source's direction: a descending sequence is ahead when lower.
  const ascending = source.increment > 0n;
  const wanted = ascending ? sourceNext + margin : sourceNext - margin;
  const ahead = ascending ? targetNext - wanted : wanted - targetNext;
  if (ahead === 0n) return { ...base, targetNext, newTargetNext: targetNext, action: "in sync", note: null };
  if (ahead > 0n) {
    return { ...base, targetNext, newTargetNext: targetNext, action: "already ahead", note: `the target is ${ahead} past the value to set (${wanted}): left as it is, never moved back` };
  }
  if (wanted > target.max || wanted < target.min) {
    return {
      ...base,
      targetNext,
      newTargetNext: null,
      action: "out of range",
      note: `the value to set (${wanted}) is outside the target sequence's range ${target.min}..${target.max}`,
    };
  }
  return { ...base, targetNext, newTargetNext: wanted, action: "set", note: null };
}

/**
 * What to do to each target sequence: for every chosen source sequence, set the target's
 * sequence of the same schema.name so that its next value is the source's next value plus
 * `margin` (in the sequence's direction), unless the target is already there or past it: a
 * target sequence is never moved back. `target` holds the target's sequences of those names
 * that exist, and any target sequence of the replicated tables the source has no sequence
 * for (reported "not on source", left alone).
 */
export function planSequenceSync(source: readonly SequenceReading[], target: readonly SequenceReading[], margin: bigint): SequencePlan {
  if (margin < 0n) throw new ZerolossError("UNEXPECTED", `a sequence margin must not be negative (got ${margin})`);
  const targets = new Map(target.map((t) => [qualifiedName(t), t]));
  const sourceNames = new Set(source.map(qualifiedName));
  const rows: SequenceSyncRow[] = source.map((s) => planOne(s, targets.get(qualifiedName(s)), margin));
  for (const t of target) {
    if (sourceNames.has(qualifiedName(t))) continue;
    const targetNext = nextValue(t);
    rows.push({
      schema: t.schema,
      name: t.name,
      ownedBy: ownerText(t),
      sourceNext: null,
      targetNext,
      newTargetNext: targetNext,
      action: "not on source",
      note: "the source has no sequence of this name: left as it is",
    });
  }
  return { margin, rows: rows.sort(byName) };
}

/**
 * The plan's failures, one error per kind, each naming every sequence concerned and the fix.
 * A plan with any is applied not at all: the target is set all together or left as it was.
 */
export function sequenceSyncErrors(plan: SequencePlan): ZerolossError[] {
  const errors: ZerolossError[] = [];
  const missing = plan.rows.filter((r) => r.action === "missing on target");
  if (missing.length > 0) {
    const list = missing.map((r) => `${qualifiedName(r)}${r.ownedBy === null ? "" : ` (owned by ${r.ownedBy})`}`).join(", ");
    errors.push(
      new ZerolossError(
        "SEQUENCE_MISSING_ON_TARGET",
        `${missing.length} sequence(s) of the source have no sequence of the same name on the target: ${list}; no sequence was set. ` +
          `Create each on the target (a table the consumer created has no serial or identity column: ALTER TABLE … ALTER COLUMN … ADD GENERATED BY DEFAULT AS IDENTITY, ` +
          `or CREATE SEQUENCE … OWNED BY … with ALTER TABLE … ALTER COLUMN … SET DEFAULT nextval(…)), or leave a standalone one out with source.exclude, then run zeroloss sequences sync again`,
        { details: { sequences: missing.map(qualifiedName) } },
      ),
    );
  }
  const outOfRange = plan.rows.filter((r) => r.action === "out of range");
  if (outOfRange.length > 0) {
    const list = outOfRange.map((r) => `${qualifiedName(r)}: ${r.note ?? ""} (ALTER SEQUENCE ${quoteTable(r)} AS bigint MAXVALUE … / MINVALUE …)`).join("; ");
    errors.push(
      new ZerolossError(
        "SEQUENCE_OUT_OF_RANGE",
        `${outOfRange.length} target sequence(s) cannot hold the source's next value plus the margin (${plan.margin}): ${list}; no sequence was set. Widen them, or lower --margin, then run zeroloss sequences sync again`,
        { details: { sequences: outOfRange.map(qualifiedName) } },
      ),
    );
  }
  return errors;
}
