// Step 4 of the cutover: the verifier (services/verifier, independent of everything that
// carried the data) compares every table by content at the cut. With writes fenced and the
// pipeline drained, its result is exact: a difference it finds stays a difference. Its JSON
// report is kept beside the certificate (verify.json), its log in verifier.log.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { VerifierRecord } from "@zeroloss/certificate";
import { ZerolossError } from "@zeroloss/errors";
import type { VerifyReport } from "@zeroloss/wire";
import type { ProgressLines } from "../progress-lines.js";
import { runVerifierJson } from "../verifier-run.js";

export function verifierRecord(r: VerifyReport): VerifierRecord {
  return {
    result: r.result,
    passes: r.passes,
    durationMs: Math.round(r.durationMs),
    tables: r.tables.length,
    rowsCompared: r.tables.reduce((a, t) => a + t.rowsCompared, 0),
    driftRows: r.tables.reduce((a, t) => a + t.driftRows, 0),
  };
}

/** The tables that are not equal, a line each, for the command's output. */
export function verifierProblems(r: VerifyReport): string[] {
  return r.tables
    .filter((t) => t.result !== "equal")
    .map((t) => (t.result === "error" ? `${t.table}: the verifier failed: ${t.problems.join("; ")}` : `${t.table}: ${t.driftRows} row(s) differ${t.problems.length > 0 ? ` (${t.problems.join("; ")})` : ""}`));
}

export async function verifyStep(o: { readonly configFile?: string; readonly dir: string; readonly progress: ProgressLines; readonly signal: AbortSignal }): Promise<{ record: VerifierRecord; report: VerifyReport }> {
  const logFile = join(o.dir, "verifier.log");
  o.progress.line("verify: the verifier compares every table of source and target by content");
  const run = await runVerifierJson({ ...(o.configFile === undefined ? {} : { configFile: o.configFile }), logFile, env: process.env, outputError: "CUTOVER_VERIFIER_OUTPUT", signal: o.signal });
  if (run.report === null || (run.report.result === "error" && run.report.tables.length === 0)) {
    throw new ZerolossError("CUTOVER_VERIFIER_FAILED", `the verifier could not compare (exit ${run.code}): ${run.stderr.trim().split("\n").slice(-3).join(" ") || "no output"}; its log: ${logFile}`);
  }
  await writeFile(join(o.dir, "verify.json"), `${JSON.stringify(run.report, null, 2)}\n`);
  const record = verifierRecord(run.report);
  o.progress.line(
    `verifier: ${record.result.toUpperCase()}, ${record.tables} table(s), ${record.rowsCompared.toLocaleString("en-US")} rows compared in ${(record.durationMs / 1000).toFixed(1)} s` +
      (record.result === "equal" ? "" : `; ${record.driftRows} row(s) differ (report: ${join(o.dir, "verify.json")})`),
  );
  return { record, report: run.report };
}
