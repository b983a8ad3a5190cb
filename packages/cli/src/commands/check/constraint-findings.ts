// Area 5, what the target does on its own when the consumer writes a row: foreign keys and
// triggers on the target tables that exist, as target.sessionReplicationRole decides
// (docs/consumer.md, "Foreign keys and triggers"). Warnings: none of them stops a start.
import { qualifiedName, quoteIdent, quoteTable, type ForeignKey, type Trigger } from "@zeroloss/pg";
import type { Finding } from "./finding.js";

export function constraintFindings(foreignKeys: readonly ForeignKey[], triggers: readonly Trigger[], role: "replica" | "origin"): Finding[] {
  const out: Finding[] = [];
  for (const fk of foreignKeys) {
    const t = quoteTable(fk.table);
    const orphans = `SELECT … FROM ${t} LEFT JOIN ${quoteTable(fk.references)} ON … WHERE the referenced row IS NULL`;
    out.push({
      area: "constraints",
      severity: "warning",
      check: "foreign-key",
      object: { kind: "constraint", name: `${qualifiedName(fk.table)}.${fk.name}` },
      problem:
        role === "replica"
          ? `${fk.definition} (references ${qualifiedName(fk.references)}): not checked on the rows the consumer applies (session_replication_role replica), ` +
            "so rows arriving before the rows they reference (another table, another partition) are applied; a row the source holds without its parent is applied too"
          : `${fk.definition} (references ${qualifiedName(fk.references)}): checked on every applied row (target.sessionReplicationRole origin); the consumer applies ` +
            "each Kafka partition in its own transactions, so a row can arrive before the row it references and its partition stops (PG_QUERY_FAILED, SQLSTATE 23503)",
      fix:
        role === "replica"
          ? `before a cutover, look for rows without their referenced row (${orphans})`
          : "set target.sessionReplicationRole: replica (the default), or drop the constraint for the migration and add it back at cutover",
    });
  }
  // With replica, ordinary triggers (O) do not fire for the consumer's sessions, ALWAYS (A) and
  // REPLICA (R) ones do; with origin, O and A fire. D (disabled) never.
  for (const tg of triggers) {
    const fires = role === "replica" ? tg.enabled === "A" || tg.enabled === "R" : tg.enabled === "O" || tg.enabled === "A";
    if (tg.enabled === "D") continue;
    const mode = tg.enabled === "A" ? " (ENABLE ALWAYS)" : tg.enabled === "R" ? " (ENABLE REPLICA)" : "";
    out.push({
      area: "constraints",
      severity: "warning",
      check: "trigger",
      object: { kind: "trigger", name: `${qualifiedName(tg.table)}.${tg.name}` },
      problem: fires
        ? `${tg.definition}${mode}: it fires on the rows the consumer writes (its inserts, updates and deletes), again on a replay, and what it changes is not what the source holds`
        : `${tg.definition}${mode}: it does not fire on the rows the consumer writes (session_replication_role replica); what it would do for them does not happen`,
      fix: fires
        ? `if its effects must not happen for replicated rows: ALTER TABLE ${quoteTable(tg.table)} DISABLE TRIGGER ${quoteIdent(tg.name)}; and enable it again at cutover`
        : `if it must fire for replicated rows: ALTER TABLE ${quoteTable(tg.table)} ENABLE ALWAYS TRIGGER ${quoteIdent(tg.name)};`,
    });
  }
  return out;
}
