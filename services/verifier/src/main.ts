// The verifier process: `zeroloss verify` runs it. One-shot (optionally --sustain) prints a
// report and exits 0 equal, 1 drift, 2 error; --continuous runs the watchdog with /metrics,
// /healthz and /api/last until stopped. Logic lives in compare.ts (a pass over a table),
// settle.ts (changes in flight), verify.ts (tables, sustain), watchdog.ts (schedule).
import { Command, InvalidArgumentError } from "commander";
import { loadServiceConfig } from "@zeroloss/config";
import { describeError, isZerolossError } from "@zeroloss/errors";
import { createLogger, createRegistry, runServiceProcess } from "@zeroloss/observability";
import { VerifierMetrics } from "./metrics.js";
import { progressPrinter } from "./progress.js";
import type { VerifyReport } from "@zeroloss/wire";
import { EXIT_CODES, formatReport } from "./report.js";
import { openSides } from "./sides.js";
import { verifyOnce, verifySustained } from "./verify.js";
import { Watchdog } from "./watchdog.js";

interface Options {
  config?: string;
  tables?: string[];
  sustain?: number;
  json: boolean;
  continuous: boolean;
  progress?: boolean;
}

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("must be a number of seconds above 0");
  return n;
}

function tableList(v: string): string[] {
  const list = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const bad = list.filter((s) => !/^[^.\s]+\.[^.\s]+$/.test(s));
  if (list.length === 0 || bad.length > 0) throw new InvalidArgumentError(`tables are schema.table (use * as a wildcard), comma-separated; not: ${bad.join(", ") || "(empty)"}`);
  return list;
}

async function main(argv: readonly string[]): Promise<number> {
  const program = new Command("zeroloss verify")
    .description("compare source and target by content; exit 0 equal, 1 drift, 2 error")
    .option("-c, --config <file>", "zeroloss.yaml (ZEROLOSS_* variables override it)")
    .option("--tables <list>", "schema.table patterns, comma-separated (default: verify.tables, else the source's tables)", tableList)
    .option("--sustain <seconds>", "verify again and again until this many seconds of zero drift, or report the drift that stays", seconds)
    .option("--json", "print the report as JSON on stdout", false)
    .option("--continuous", "run as a watchdog: verify every verify.intervalSeconds, serve /metrics, /healthz and /api/last", false)
    .option("--progress", "progress on stderr even when it is not a terminal")
    .option("--no-progress", "no progress on stderr")
    .exitOverride();
  let opts: Options;
  try {
    opts = program.parse([...argv]).opts<Options>();
  } catch (err) {
    return (err as { exitCode?: number }).exitCode === 0 ? 0 : 2;
  }
  if (opts.continuous && opts.sustain !== undefined) {
    process.stderr.write("zeroloss verify: --sustain and --continuous do not go together (the watchdog verifies on a schedule)\n");
    return 2;
  }
  const config = await loadServiceConfig("verify", opts.config);
  if (config === null) return 2;
  const log = createLogger({ name: "verifier", level: config.log.level, pretty: process.stderr.isTTY === true });
  const tables = opts.tables === undefined ? {} : { tables: opts.tables };

  if (opts.continuous) {
    const registry = createRegistry("verifier");
    const watchdog = new Watchdog({ config, log, metrics: new VerifierMetrics(registry), ...tables });
    return runServiceProcess({ name: "verifier", log, registry, http: config.verify.http, service: watchdog, routes: watchdog.routes() });
  }

  let stopping = false;
  const onSignal = () => {
    if (stopping) process.exit(2);
    stopping = true;
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const printer = opts.progress ?? process.stderr.isTTY === true ? progressPrinter() : null;
  let report: VerifyReport;
  try {
    const sides = await openSides(config);
    try {
      const o = { config, log, ...tables, stopped: () => stopping, ...(printer === null ? {} : { onProgress: printer.update }) };
      report = opts.sustain === undefined ? await verifyOnce(sides, o) : await verifySustained(sides, o, opts.sustain);
    } finally {
      printer?.done();
      await sides.close();
    }
  } catch (err) {
    const code = isZerolossError(err) ? err.code : "UNEXPECTED";
    const message = isZerolossError(err) ? err.message : describeError(err);
    if (opts.json) process.stdout.write(`${JSON.stringify({ result: "error", error: { code, message } })}\n`);
    process.stderr.write(`zeroloss verify: error [${code}]: ${message}\n`);
    return 2;
  }
  process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : `${formatReport(report)}\n`);
  return EXIT_CODES[report.result];
}

// Exit explicitly: a client library keeping a socket or timer open must not keep a finished verifier alive.
process.exit(await main(process.argv));
