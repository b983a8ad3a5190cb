// Step 5 of the cutover: settle what logical replication does not carry or check. Sequences:
// each target sequence set past its source's next value (plus the margin), so the first insert
// on the target after the cutover does not collide. Foreign keys: the consumer applies with
// session_replication_role replica (foreign keys not enforced, docs/consumer.md), so every
// foreign key on the target's tables is validated here, by counting rows without their
// referenced row.
import { SETTLED_SEQUENCE_ACTIONS, type ConstraintEntry, type SequenceEntry } from "@zeroloss/certificate";
import type { Config } from "@zeroloss/config";
import { qualifiedName, readSourceSequences, syncTargetSequences, validateForeignKeys, type Client, type TableName } from "@zeroloss/pg";
import type { ProgressLines } from "../progress-lines.js";

const text = (v: bigint | null) => (v === null ? null : v.toString());

export async function sequencesStep(c: { source: Client; target: Client; config: Config; margin: bigint; progress: ProgressLines }): Promise<{ entries: SequenceEntry[]; problems: string[] }> {
  const source = await readSourceSequences(c.source, { include: c.config.source.tables, exclude: c.config.source.exclude });
  const result = await syncTargetSequences(c.target, source, { margin: c.margin, dryRun: false });
  const entries: SequenceEntry[] = result.plan.rows.map((r) => ({
    sequence: qualifiedName(r),
    ownedBy: r.ownedBy,
    sourceNext: text(r.sourceNext),
    targetBefore: text(r.targetNext),
    targetAfter: text(result.applied && r.action === "set" ? r.newTargetNext : r.targetNext),
    action: r.action,
  }));
  const set = entries.filter((e) => e.action === "set").length;
  // The sync's errors name each sequence it refused (nothing is set then); otherwise the rows say.
  const problems =
    result.errors.length > 0 ? result.errors.map((e) => e.message) : entries.filter((e) => !SETTLED_SEQUENCE_ACTIONS.includes(e.action)).map((e) => `sequence ${e.sequence}: ${e.action}`);
  c.progress.line(`sequences: ${entries.length} follow the replicated tables; ${set} set past the source's next value (margin ${c.margin})${problems.length > 0 ? `; ${problems.length} problem(s)` : ""}`);
  return { entries, problems };
}

export async function constraintsStep(c: { target: Client; tables: readonly TableName[]; progress: ProgressLines }): Promise<ConstraintEntry[]> {
  const checked = await validateForeignKeys(c.target, c.tables);
  const entries: ConstraintEntry[] = checked.map((v) => ({
    table: qualifiedName(v.foreignKey.table),
    constraint: v.foreignKey.name,
    references: qualifiedName(v.foreignKey.references),
    orphans: v.orphans,
    valid: v.ok,
  }));
  const bad = entries.filter((e) => !e.valid);
  c.progress.line(`foreign keys: ${entries.length} on the target's tables validated; ${bad.length === 0 ? "every row has the row it references" : `${bad.length} violated`}`);
  for (const v of checked.filter((x) => !x.ok)) {
    c.progress.line(`  ${qualifiedName(v.foreignKey.table)}.${v.foreignKey.name}: ${v.orphans} row(s) without their ${qualifiedName(v.foreignKey.references)} row, e.g. ${JSON.stringify(v.sample.slice(0, 3))}`);
  }
  return entries;
}
