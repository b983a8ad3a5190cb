// The check's report as a person reads it (grouped by area, errors first within each) and
// as a script reads it (--json: the findings and a summary).
import { AREAS, AREA_TITLES, summarize, type CheckReport, type CheckSummary, type Finding } from "./finding.js";

const SEVERITY_ORDER = { error: 0, warning: 1 } as const;

/** Errors before warnings, otherwise in the order found. */
function ordered(findings: readonly Finding[]): Finding[] {
  return findings.map((f, i) => ({ f, i })).sort((a, b) => SEVERITY_ORDER[a.f.severity] - SEVERITY_ORDER[b.f.severity] || a.i - b.i).map((x) => x.f);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export function formatReport(report: CheckReport): string {
  const s = summarize(report);
  const lines: string[] = [
    `zeroloss check: source ${report.source}, target ${report.target}`,
    `${plural(report.tables, "table")} chosen by source.tables; ${report.targetTables} of them in the target already` +
      (report.tables > report.targetTables ? ` (the consumer creates the others)` : ""),
  ];
  for (const area of AREAS) {
    const found = ordered(report.findings.filter((f) => f.area === area));
    lines.push("", AREA_TITLES[area]);
    if (found.length === 0) lines.push("  ok");
    for (const f of found) {
      const label = f.severity === "error" ? "error  " : "warning";
      lines.push(`  ${label}  ${f.object.kind} ${f.object.name}${f.code === undefined ? "" : ` [${f.code}]`}: ${f.problem}`);
      lines.push(`           fix: ${f.fix}`);
    }
  }
  if (report.created.length > 0) {
    lines.push("", `Created by --fix in the target (one transaction):`);
    for (const c of report.created) lines.push(`  ${c.kind} ${c.type}: ${c.sql}`);
  }
  lines.push("", verdict(s));
  return `${lines.join("\n")}\n`;
}

function verdict(s: CheckSummary): string {
  const counts = `${s.errors === 0 ? "no errors" : plural(s.errors, "error")}, ${s.warnings === 0 ? "no warnings" : plural(s.warnings, "warning")}`;
  return s.ready ? `${counts}: ready (exit ${s.exitCode})` : `${counts}: problems found (exit ${s.exitCode})`;
}

/** --json: one object, `findings` (each as in Finding) and `summary`. */
export function reportJson(report: CheckReport): string {
  return `${JSON.stringify({ source: report.source, target: report.target, findings: report.findings, created: report.created, summary: summarize(report) })}\n`;
}
