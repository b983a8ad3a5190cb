// `zeroloss check --config FILE [--json] [--fix]`: the preflight before a migration. It reads
// the source and the target as the producer's and the consumer's roles (the URLs in the
// config) and reports every problem at once, grouped by area (docs/operations.md, "Preflight:
// zeroloss check"). It changes nothing, both sessions read-only, unless --fix: then it first
// creates in the target, in one transaction, the enums, domains and composite types the
// source's columns need, and reports the check as it stands after that.
// Exit 0: no errors (warnings allowed); 1: errors found; 2: not checked (configuration, a
// database that could not be reached or read).
import { loadConfig, type Config } from "@zeroloss/config";
import { describeError, isZerolossError, redact, ZerolossError } from "@zeroloss/errors";
import { connect, query, type Client } from "@zeroloss/pg";
import { EXIT_NOT_CHECKED, checkExitCode, type CheckReport, type CreatedType, type Finding } from "./finding.js";
import { formatReport, reportJson } from "./format.js";
import { chosenTables, runChecks } from "./run-checks.js";
import { createTypes, fixFailed } from "./type-fix.js";
import { checkTypes } from "./type-findings.js";

export interface CheckCommandOptions {
  readonly config?: string;
  readonly json: boolean;
  readonly fix: boolean;
}

function notChecked(err: unknown): number {
  const line = isZerolossError(err) ? `zeroloss: error [${err.code}]: ${err.message}` : `zeroloss: unexpected error: ${describeError(err)}`;
  process.stderr.write(redact(`${line}\n`));
  return EXIT_NOT_CHECKED;
}

/** Both sides at once, so two unreachable databases are two lines, not one after a fix. */
async function connectBoth(config: Config): Promise<{ source: Client; target: Client } | unknown[]> {
  const [s, t] = await Promise.allSettled([
    connect(config.source.url, { applicationName: "zeroloss-check" }),
    connect(config.target.url, { applicationName: "zeroloss-check" }),
  ]);
  if (s.status === "fulfilled" && t.status === "fulfilled") return { source: s.value, target: t.value };
  for (const r of [s, t]) if (r.status === "fulfilled") await r.value.end().catch(() => undefined);
  return [s, t].flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
}

/** Both sessions read-only: nothing the check runs can change either database by mistake. */
async function readOnly(source: Client, target: Client): Promise<void> {
  for (const c of [source, target]) await query(c, "making the check's session read-only", "SET SESSION default_transaction_read_only = on");
}

/** The preflight as `zeroloss cutover` runs it: every area, nothing changed; a database that cannot be reached throws. */
export async function runPreflight(config: Config): Promise<CheckReport> {
  const connected = await connectBoth(config);
  if (Array.isArray(connected)) throw connected[0];
  const { source, target } = connected;
  for (const c of [source, target]) c.on("error", () => undefined);
  try {
    await readOnly(source, target);
    return await runChecks(source, target, config, { created: [], findings: [] });
  } finally {
    await Promise.all([source.end().catch(() => undefined), target.end().catch(() => undefined)]);
  }
}

export async function checkCommand(options: CheckCommandOptions): Promise<number> {
  // A configuration error propagates: main prints it and exits 2 (CONFIG_*).
  const config = await loadConfig({ ...(options.config === undefined ? {} : { file: options.config }), env: process.env });
  const connected = await connectBoth(config);
  if (Array.isArray(connected)) {
    for (const err of connected) notChecked(err);
    return EXIT_NOT_CHECKED;
  }
  const { source, target } = connected;
  for (const c of [source, target]) c.on("error", () => undefined);
  try {
    await readOnly(source, target);
    let created: CreatedType[] = [];
    const fixFindings: Finding[] = [];
    if (options.fix) {
      const { plan } = await checkTypes(source, target, await chosenTables(source, config));
      try {
        created = await createTypes(target, plan);
      } catch (err) {
        if (!(err instanceof ZerolossError)) throw err;
        fixFindings.push(fixFailed(err, plan));
      }
    }
    const report = await runChecks(source, target, config, { created, findings: fixFindings });
    process.stdout.write(options.json ? reportJson(report) : formatReport(report));
    return checkExitCode(report.findings);
  } catch (err) {
    return notChecked(err);
  } finally {
    await Promise.all([source.end().catch(() => undefined), target.end().catch(() => undefined)]);
  }
}
