// Area 5, what the target does on its own when the consumer writes a row: foreign keys and
// triggers on the target tables that exist. Reported only (warnings): how zeroloss should
// handle them is being designed separately.
import { qualifiedName, quoteIdent, quoteTable, type ForeignKey, type Trigger } from "@zeroloss/pg";
import type { Finding } from "./finding.js";

export function constraintFindings(foreignKeys: readonly ForeignKey[], triggers: readonly Trigger[]): Finding[] {
  const out: Finding[] = [];
  for (const fk of foreignKeys) {
    const t = quoteTable(fk.table);
    out.push({
      area: "constraints",
      severity: "warning",
      check: "foreign-key",
      object: { kind: "constraint", name: `${qualifiedName(fk.table)}.${fk.name}` },
      problem:
        `${fk.definition} (references ${qualifiedName(fk.references)}): the consumer applies each Kafka partition in its own transactions, so a row can ` +
        "arrive before the row it references (of another table, or in another partition of the same table); the constraint then refuses it and the " +
        "partition stops (PG_QUERY_FAILED), and a delete of a referenced row can be refused or cascade",
      fix: `for the migration, drop it and add it back at cutover: ALTER TABLE ${t} DROP CONSTRAINT ${quoteIdent(fk.name)}; then ALTER TABLE ${t} ADD CONSTRAINT ${quoteIdent(fk.name)} ${fk.definition};`,
    });
  }
  // R (replica only) and D (disabled) do not fire for the consumer's sessions.
  for (const tg of triggers.filter((x) => x.enabled === "O" || x.enabled === "A")) {
    out.push({
      area: "constraints",
      severity: "warning",
      check: "trigger",
      object: { kind: "trigger", name: `${qualifiedName(tg.table)}.${tg.name}` },
      problem:
        `${tg.definition}${tg.enabled === "A" ? " (ENABLE ALWAYS)" : ""}: it fires on the rows the consumer writes (its inserts, updates and deletes), ` +
        "again on a replay, and what it changes is not what the source holds",
      fix: `if its effects must not happen for replicated rows: ALTER TABLE ${quoteTable(tg.table)} DISABLE TRIGGER ${quoteIdent(tg.name)}; and enable it again at cutover`,
    });
  }
  return out;
}
