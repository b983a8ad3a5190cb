// Area 6, sequences owned by the replicated tables' columns: logical replication carries the
// rows but not the sequences' positions, so after a cutover the target would hand out values
// its rows already hold. `zeroloss sequences sync` sets them.
import { qualifiedName, type OwnedSequence } from "@zeroloss/pg";
import type { Finding } from "./finding.js";

export function sequenceFindings(sequences: readonly OwnedSequence[]): Finding[] {
  return sequences.map((s) => ({
    area: "sequences",
    severity: "warning",
    check: "sequence-not-replicated",
    object: { kind: "sequence", name: qualifiedName(s.sequence) },
    problem:
      `belongs to ${qualifiedName(s.table)}.${s.column} (${s.kind === "identity" ? "GENERATED AS IDENTITY" : "serial or OWNED BY"}): logical replication does not carry ` +
      "sequence positions, so the target's stays where it is while the rows arrive, and after a cutover it would hand out values the table already holds",
    fix: "at cutover, with writes to the source stopped: zeroloss sequences sync --config <file> (sets each target sequence from the source's)",
  }));
}
