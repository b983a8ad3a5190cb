// What a cutover must hold to be proven, defined once: the cutover command decides its exit
// code with it, and a certificate's `proven` is the tables' equality and this. Each problem is
// a sentence naming what failed, for the command's output and the page.
import type { CutoverRecord, StageCounts } from "./types.js";

/** Sequence actions after which the target's sequence is at or past the source's. */
export const SETTLED_SEQUENCE_ACTIONS: readonly string[] = ["set", "in sync", "already ahead"];

function unbalanced(what: string, c: StageCounts): string[] {
  const problems: string[] = [];
  if (c.transferred !== c.emitted) problems.push(`${what}: ${c.emitted} emitted but ${c.transferred} found in Kafka`);
  const written = c.applied + c.duplicate + c.quarantined;
  if (written !== c.emitted) problems.push(`${what}: ${c.emitted} emitted but ${written} written (applied ${c.applied}, duplicate ${c.duplicate}, quarantined ${c.quarantined})`);
  return problems;
}

/** Every claim of the cutover that does not hold; empty when it is proven (the tables aside). */
export function cutoverProblems(c: CutoverRecord): string[] {
  const problems: string[] = [];
  if (!c.fence.held) problems.push(`writes reached the source's tables after the fence at ${c.fence.lsn}: the cut is not consistent`);
  if (c.quarantined > 0) problems.push(`${c.quarantined} record(s) in the target's zeroloss.quarantine`);
  // Records only: rows are compared per window by the counter (a window in behind or mismatch
  // below), which knows the windows of older tallies whose rows are not exact.
  problems.push(...unbalanced("records", c.counter.records));
  for (const state of ["mismatch", "attention", "behind"]) {
    const n = c.counter.windows[state] ?? 0;
    if (n > 0) problems.push(`the counter has ${n} window(s) in ${state}`);
  }
  for (const state of ["incomplete", "pending", "complete"]) {
    const n = c.counter.transactions[state] ?? 0;
    if (n > 0) problems.push(`the counter has ${n} source transaction(s) ${state}${state === "complete" ? " but not applied" : ""}`);
  }
  if (c.verifier.result !== "equal") problems.push(`the verifier found ${c.verifier.result === "drift" ? `${c.verifier.driftRows} row(s) that differ` : "an error"}`);
  for (const s of c.sequences) if (!SETTLED_SEQUENCE_ACTIONS.includes(s.action)) problems.push(`sequence ${s.sequence}: ${s.action}`);
  for (const k of c.constraints) if (!k.valid) problems.push(`constraint ${k.constraint} on ${k.table}: ${k.orphans} row(s) without the ${k.references} row they reference`);
  return problems;
}
