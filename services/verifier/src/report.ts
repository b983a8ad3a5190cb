// The verifier's report for a person at a terminal, the overall result and the exit codes.
// The JSON shape (`zeroloss verify --json`, the watchdog's /api/last) is VerifyReport in
// @zeroloss/wire, where the CLI's demo reads it too.

import type { TableReport, VerifyReport } from "@zeroloss/wire";

export const EXIT_CODES = { equal: 0, drift: 1, error: 2 } as const;

export function overall(tables: readonly TableReport[]): VerifyReport["result"] {
  if (tables.some((t) => t.result === "error")) return "error";
  return tables.some((t) => t.result === "drift") ? "drift" : "equal";
}

const show = (v: string | null) => (v === null ? "NULL" : JSON.stringify(v));

/** The report for a person at a terminal. */
export function formatReport(r: VerifyReport): string {
  const lines: string[] = [];
  const head = { equal: "EQUAL", drift: "DRIFT", error: "ERROR" }[r.result];
  const sustain = r.sustain === undefined ? "" : `, zero drift sustained ${r.sustain.reachedSeconds.toFixed(1)} s of ${r.sustain.seconds} s`;
  lines.push(`${head}: ${r.tables.length} table(s) compared by content in ${(r.durationMs / 1000).toFixed(1)} s (${r.passes} pass(es)${sustain})`);
  for (const t of r.tables) {
    const counts = `${t.sourceRows.toLocaleString("en-US")} source rows, ${t.targetRows.toLocaleString("en-US")} target rows`;
    const what = t.result === "equal" ? "equal" : t.result === "error" ? "error" : `${t.driftRows.toLocaleString("en-US")} row(s) differ`;
    lines.push(`  ${t.table}: ${what} (${counts}${t.inFlight > 0 ? `, ${t.inFlight} in flight and caught up` : ""})`);
    for (const p of t.problems) lines.push(`    ${p}`);
    for (const n of t.notes) lines.push(`    note: ${n}`);
    for (const row of t.rows) {
      const key = Object.entries(row.key).map(([k, v]) => `${k}=${v}`).join(", ");
      const settled = row.settled ? "" : " (still changing when the settle time ran out)";
      if (row.kind === "missing") lines.push(`    missing in the target: ${key}${settled}`);
      else if (row.kind === "extra") lines.push(`    only in the target: ${key}${settled}`);
      else {
        lines.push(`    changed: ${key}${settled}`);
        for (const c of row.columns) lines.push(`      ${c.column}: source ${show(c.source)}, target ${show(c.target)}`);
      }
    }
    if (t.rows.length < t.driftRows) lines.push(`    ... and ${(t.driftRows - t.rows.length).toLocaleString("en-US")} more`);
  }
  return lines.join("\n");
}
