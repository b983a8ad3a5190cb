// The verifier's table-hash pass against `SELECT count(*)` of the same table, same run.
//
// Once: ROWS benchmark rows (bench/common.mjs) inserted with the same SQL into a source and
// a target database (the dev stack's two servers). Then PAIRS pairs, one after the other:
//   1. count: `SELECT count(*) FROM bench_rows` on both servers at once (as the verifier
//      reads both at once), timed in this process;
//   2. verify: `zeroloss verify --tables public.bench_rows --json --no-progress` as its own
//      process, which must exit 0 (equal); timed by its report's durationMs (connections
//      open; no Node startup) and as a process (spawn to exit).
// Ratio = verify ms ÷ count ms of the same pair: how many counts one content comparison costs.
//
// Usage: npm run bench:verify              (ROWS=1000000 PAIRS=3)
//        ROWS=100000 PAIRS=1 node bench/verify/run.mjs
// Prints one line per measurement and a JSON summary last.
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createLogger } from "@zeroloss/observability";
import { Processes, TABLE_DDL, dropDatabase, fmt, freshDatabase, insertBacklog, newSummary, rate, runBench, sql, startBenchStack } from "../common.mjs";

const env = process.env;
const ROWS = Number(env.ROWS ?? process.argv[2] ?? 1_000_000);
const PAIRS = Number(env.PAIRS ?? 3);
const CLI = resolve(import.meta.dirname, "../../packages/cli/bin/zeroloss.js");

for (const [name, v] of Object.entries({ ROWS, PAIRS })) {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got ${v}`);
}

const log = createLogger({ name: "bench", level: "warn", pretty: true });
const procs = new Processes();
const work = mkdtempSync(join(tmpdir(), "zeroloss-bench-verify-"));
const summary = newSummary({ bench: "verify", rows: ROWS, pairsAsked: PAIRS });
let urls = null;

async function load(stack) {
  const t0 = performance.now();
  const source = await freshDatabase(stack.source, "bench_vsrc");
  const target = await freshDatabase(stack.target, "bench_vtgt");
  await Promise.all(
    [source, target].map((url) =>
      sql(url, async (c) => {
        await c.query(TABLE_DDL());
        await insertBacklog(c, ROWS, 100_000);
        await c.query("VACUUM ANALYZE bench_rows");
      }),
    ),
  );
  console.log(`source and target: ${fmt(ROWS)} rows each, loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { source, target };
}

async function count() {
  const t0 = performance.now();
  const ns = await Promise.all([urls.source, urls.target].map((url) => sql(url, async (c) => Number((await c.query("SELECT count(*) AS n FROM bench_rows")).rows[0].n))));
  const ms = performance.now() - t0;
  if (ns.some((n) => n !== ROWS)) throw new Error(`count(*) gave ${ns.join(", ")}, expected ${ROWS}`);
  return ms;
}

async function verify(configFile) {
  const t0 = performance.now();
  const p = procs.run(process.execPath, ["--disable-warning=TimeoutNegativeWarning", CLI, "verify", "--config", configFile, "--tables", "public.bench_rows", "--json", "--no-progress"]);
  const { code, out } = await p.exited;
  const wallMs = performance.now() - t0;
  const line = out.split("\n").find((l) => l.startsWith("{"));
  if (code !== 0 || line === undefined) throw new Error(`zeroloss verify exited ${code}:\n${out.slice(-3000)}`);
  const report = JSON.parse(line);
  if (report.result !== "equal" || report.tables[0].rowsCompared !== ROWS) throw new Error(`unexpected report: ${line.slice(0, 2000)}`);
  return { ms: report.durationMs, wallMs };
}

await runBench(
  "bench:verify",
  summary,
  0,
  async () => {
    const stack = await startBenchStack(procs, summary, log);
    urls = await load(stack);
    const configFile = join(work, "zeroloss.yaml");
    writeFileSync(configFile, JSON.stringify({ source: { url: urls.source }, target: { url: urls.target }, kafka: { brokers: stack.kafka }, log: { level: "warn" } }));
    for (let i = 1; i <= PAIRS; i++) {
      const countMs = await count();
      const v = await verify(configFile);
      const ratio = v.ms / countMs;
      console.log(
        `pair ${i}: count(*) on both ${countMs.toFixed(0)} ms (${fmt(rate(ROWS, countMs))} rows/s); ` +
          `verify ${v.ms.toFixed(0)} ms (${fmt(rate(ROWS, v.ms))} rows/s; process ${v.wallMs.toFixed(0)} ms); verify/count ${ratio.toFixed(1)}x`,
      );
      summary.pairs.push({ countMs: Math.round(countMs), verifyMs: v.ms, verifyProcessMs: Math.round(v.wallMs), verifyRowsPerSec: rate(ROWS, v.ms), ratio: Number(ratio.toFixed(2)) });
    }
  },
  async () => {
    if (urls !== null && procs.stack !== null) {
      await dropDatabase(procs.stack.source, "bench_vsrc");
      await dropDatabase(procs.stack.target, "bench_vtgt");
    }
    await procs.cleanup();
    rmSync(work, { recursive: true, force: true });
  },
);
