// `zeroloss sequences sync`: sets the target's sequences from the source's, because logical
// replication carries rows and never sequence state (docs/operations.md, "Sequences"). The
// work is @zeroloss/pg's (readSourceSequences, syncTargetSequences), so the cutover can run
// the same; this module loads the config, connects, and prints the report.
import { InvalidArgumentError } from "commander";
import { loadConfig, type Config } from "@zeroloss/config";
import { isZerolossError, redact, type ZerolossError } from "@zeroloss/errors";
import { connect, describeUrl, qualifiedName, readSourceSequences, syncTargetSequences, type Client, type SequenceSyncResult, type SequenceSyncRow } from "@zeroloss/pg";

export interface SequencesSyncOptions {
  readonly config?: string;
  /** --margin; absent: sequences.margin from the config. */
  readonly margin?: bigint;
  readonly dryRun: boolean;
  readonly json: boolean;
  /** --every: sync again every this many seconds until stopped (SIGINT, SIGTERM), a line per run. */
  readonly every?: number;
}

/** --margin: a whole number, 0 or more; as bigint, as sequence values are. */
export function parseMargin(value: string): bigint {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError("must be a whole number, 0 or more");
  return BigInt(value.trim());
}

const text = (v: bigint | null): string => (v === null ? "-" : v.toString());

/** The report as a person reads it: a table of every sequence, then what was done. */
export function formatSequenceReport(result: SequenceSyncResult, source: string, target: string, dryRun: boolean): string {
  const header = ["sequence", "owned by", "source next", "target next", "new target next", "action"];
  const lines = result.plan.rows.map((r) => [qualifiedName(r), r.ownedBy ?? "-", text(r.sourceNext), text(r.targetNext), text(r.newTargetNext), actionText(r, result, dryRun)]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  // Numbers right-aligned, so their digits line up.
  const numeric = new Set([2, 3, 4]);
  const row = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : numeric.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const table = result.plan.rows.length === 0 ? "no sequence follows the replicated tables\n" : `${[header, ...lines].map(row).join("\n")}\n`;
  const count = (a: SequenceSyncRow["action"]) => result.plan.rows.filter((r) => r.action === a).length;
  const set = count("set");
  const outcome =
    result.errors.length > 0
      ? "nothing was set (see the errors below)"
      : dryRun
        ? `dry run: ${set} sequence(s) would be set, nothing was changed`
        : `${set} sequence(s) set; every target sequence is at or past its source's next value plus the margin`;
  const ahead = count("already ahead");
  const tail = ahead > 0 ? `; ${ahead} already ahead, left as they are` : "";
  return `source  ${source}\ntarget  ${target}\nmargin  ${result.plan.margin}\n\n${table}\n${outcome}${tail}\n`;
}

function actionText(r: SequenceSyncRow, result: SequenceSyncResult, dryRun: boolean): string {
  const action = r.action === "set" && (dryRun || !result.applied) ? "would set" : r.action;
  return r.note === null ? action : `${action}: ${r.note}`;
}

/** The report as JSON; sequence values are strings, as they may pass 2^53. */
export function sequenceReportJson(result: SequenceSyncResult, source: string, target: string, dryRun: boolean): string {
  const str = (v: bigint | null) => (v === null ? null : v.toString());
  return `${JSON.stringify({
    source,
    target,
    margin: result.plan.margin.toString(),
    dryRun,
    applied: result.applied,
    ok: result.errors.length === 0,
    sequences: result.plan.rows.map((r) => ({
      sequence: qualifiedName(r),
      ownedBy: r.ownedBy,
      sourceNext: str(r.sourceNext),
      targetNext: str(r.targetNext),
      newTargetNext: str(r.newTargetNext),
      action: r.action,
      note: r.note,
    })),
    errors: result.errors.map((e: ZerolossError) => ({ code: e.code, message: e.message })),
  })}\n`;
}

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connect(url, { applicationName: "zeroloss-cli" });
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Exit 0: every target sequence is at or past its source's next value plus the margin after
 * the run (on a dry run: would be); 1: a sequence is missing on the target or out of its range
 * (nothing is set then), or a connection, privilege or query failed; 2: configuration.
 */
export async function sequencesSyncCommand(options: SequencesSyncOptions): Promise<number> {
  const config = await loadConfig({ ...(options.config === undefined ? {} : { file: options.config }), env: process.env });
  const margin = options.margin ?? BigInt(config.sequences.margin);
  const names = [describeUrl(config.source.url), describeUrl(config.target.url)] as const;
  if (options.every !== undefined) {
    if (options.dryRun || options.json) {
      process.stderr.write("zeroloss sequences sync: --every sets the sequences on a schedule and prints a line per run; it does not go with --dry-run or --json\n");
      return 2;
    }
    return syncEvery(config, margin, options.every, names);
  }
  const result = await syncOnce(config, margin, options.dryRun);
  process.stdout.write(options.json ? sequenceReportJson(result, ...names, options.dryRun) : formatSequenceReport(result, ...names, options.dryRun));
  for (const e of result.errors) process.stderr.write(redact(`zeroloss: error [${e.code}]: ${e.message}\n`));
  return result.errors.length === 0 ? 0 : 1;
}

async function syncOnce(config: Config, margin: bigint, dryRun: boolean): Promise<SequenceSyncResult> {
  // The source is read and closed before the target is touched: no session stays open on it.
  const source = await withClient(config.source.url, (c) => readSourceSequences(c, { include: config.source.tables, exclude: config.source.exclude }));
  return withClient(config.target.url, (c) => syncTargetSequences(c, source, { margin, dryRun }));
}

/**
 * --every: the sync on a schedule while streaming, so the target is ready for a switch-over at
 * short notice (with a margin larger than what the source draws between two runs). A run that
 * fails (a sequence missing, a database away) is reported and the next one tried; the exit
 * code, once stopped, says whether the last run left every sequence in sync.
 */
async function syncEvery(config: Config, margin: bigint, seconds: number, names: readonly [string, string]): Promise<number> {
  let stopped = false;
  let wake: (() => void) | null = null;
  const stop = () => {
    stopped = true;
    wake?.();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  process.stderr.write(`syncing the target's sequences every ${seconds} s (margin ${margin}), source ${names[0]}, target ${names[1]}; Ctrl-C stops\n`);
  let ok = false;
  try {
    while (!stopped) {
      try {
        const result = await syncOnce(config, margin, false);
        const count = (a: SequenceSyncRow["action"]) => result.plan.rows.filter((r) => r.action === a).length;
        ok = result.errors.length === 0;
        process.stdout.write(
          `${new Date().toISOString()}  ${ok ? `${count("set")} set, ${count("in sync")} in sync, ${count("already ahead")} already ahead` : `nothing set: ${result.errors.map((e) => e.message).join("; ")}`}\n`,
        );
      } catch (err) {
        if (!isZerolossError(err)) throw err;
        ok = false;
        process.stdout.write(redact(`${new Date().toISOString()}  failed [${err.code}]: ${err.message}\n`));
      }
      if (!stopped) await new Promise<void>((r) => ((wake = r), setTimeout(r, seconds * 1000)));
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
  return ok ? 0 : 1;
}
