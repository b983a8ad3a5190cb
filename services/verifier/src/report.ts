// The verifier's report: what `zeroloss verify --json` prints, what the terminal summary is
// made from, and what the watchdog serves at /api/last. Key and column values are
// PostgreSQL's text output, as the databases produced them.

export type TableResult = "equal" | "drift" | "error";

export interface ColumnDifference {
  readonly column: string;
  /** null: SQL NULL (or no such row on that side). */
  readonly source: string | null;
  readonly target: string | null;
}

export interface RowDifference {
  /** Key column → value. */
  readonly key: Readonly<Record<string, string>>;
  /** missing: only in the source; extra: only in the target; changed: both, different content. */
  readonly kind: "missing" | "extra" | "changed";
  /** false when the row kept changing until the settle time ran out (a steady workload on that row). */
  readonly settled: boolean;
  /** For changed rows: the columns that differ. */
  readonly columns: readonly ColumnDifference[];
}

export interface TableReport {
  readonly table: string;
  readonly result: TableResult;
  readonly sourceRows: number;
  readonly targetRows: number;
  /** Rows hashed on both sides in the last pass (the larger side's count per range). */
  readonly rowsCompared: number;
  /** Rows that differ (all of them; `rows` lists at most verify.maxReportedRows). */
  readonly driftRows: number;
  /** Differences seen at first and gone when read again: changes that were in flight. */
  readonly inFlight: number;
  readonly durationMs: number;
  /** Structural drift (missing table, column or key), or the error that stopped this table. */
  readonly problems: readonly string[];
  /** Declared types that differ between the sides. */
  readonly notes: readonly string[];
  readonly rows: readonly RowDifference[];
}

export interface VerifyReport {
  readonly result: "equal" | "drift" | "error";
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  /** Full passes over every table (more than one with --sustain). */
  readonly passes: number;
  /** --sustain: the seconds of zero drift asked for, and reached. */
  readonly sustain?: { readonly seconds: number; readonly reachedSeconds: number };
  readonly tables: readonly TableReport[];
}

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
