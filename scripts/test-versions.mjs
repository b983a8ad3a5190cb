// The pipeline's suites on other PostgreSQL versions (docs/operations.md, "PostgreSQL versions").
// The main suite (`scripts/run test`) runs on the system's PostgreSQL 15; this runs the suites
// where the server's version matters (logical decoding and pgoutput, the text output the
// checksum depends on, the target's SQL checksum, the verifier's hashes) on each entry of a
// matrix, through the shared test stack's ZEROLOSS_TEST_SOURCE_PG / ZEROLOSS_TEST_TARGET_PG
// (PostgreSQL 16-18 binaries come from Maven Central on first use, cached).
//   node scripts/test-versions.mjs          CI's matrix: 18 on both sides, and source 15 → target 18
//   node scripts/test-versions.mjs --all    every version on both sides, and both cross pairs
//   node scripts/test-versions.mjs --pair 17:16   one pair, source:target
// Ends with a line per entry and exits 1 when any failed.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

/**
 * The suites each entry runs: one per stage, the checksum's property test (TypeScript = SQL on
 * the target's server), every type's edge values through the whole pipeline in both encodings
 * (the source's text output checksummed by the producer, recomputed by the target's server),
 * and generated columns.
 */
export const SUITES = [
  "test/smoke/postgres-logical.test.ts",
  "test/checksum/sql-equals-ts.test.ts",
  "test/avro/edge-values.test.ts",
  "test/producer/snapshot-and-stream.test.ts",
  "test/consumer/end-to-end.test.ts",
  "test/consumer/target-types.test.ts",
  "test/consumer/generated-columns.test.ts",
  "test/counter/ledger.test.ts",
  "test/verifier/silent-conversions.test.ts",
];

const CI = [
  [18, 18],
  [15, 18],
];
const ALL = [[16, 16], [17, 17], [18, 18], [15, 18], [18, 15]];

function entries(argv) {
  const unknown = argv.filter((a, i) => !["--all", "--pair"].includes(a) && argv[i - 1] !== "--pair");
  if (unknown.length > 0) {
    console.error(`test-versions: unknown argument(s) ${unknown.join(" ")}; use --all, --pair source:target, or nothing (CI's matrix)`);
    process.exit(2);
  }
  if (argv.includes("--all")) return ALL;
  const i = argv.indexOf("--pair");
  if (i >= 0) {
    const m = /^(\d+):(\d+)$/.exec(argv[i + 1] ?? "");
    if (m === null) {
      console.error("test-versions: --pair takes source:target majors, e.g. --pair 17:16");
      process.exit(2);
    }
    return [[Number(m[1]), Number(m[2])]];
  }
  return CI;
}

const results = [];
for (const [source, target] of entries(process.argv.slice(2))) {
  const label = `source PostgreSQL ${source} → target PostgreSQL ${target}`;
  console.log(`\n== test-versions: ${label}: ${SUITES.length} suites`);
  const started = Date.now();
  const run = spawnSync(process.execPath, ["scripts/test.mjs", "--project", "integration", ...SUITES], {
    stdio: "inherit",
    env: { ...process.env, ZEROLOSS_TEST_SOURCE_PG: String(source), ZEROLOSS_TEST_TARGET_PG: String(target) },
  });
  const report = summary();
  // A suite renamed or moved would be dropped by vitest's file filter without a word: every one must have run.
  const complete = report !== null && report.files === SUITES.length;
  const line = report === null ? `no result (${run.error?.message ?? `exit ${run.status}`})` : `${report.line}${complete ? "" : `; ${report.files} of ${SUITES.length} suites ran`}`;
  results.push({ label, ok: run.status === 0 && complete, line, seconds: Math.round((Date.now() - started) / 1000) });
}
console.log("\n== test-versions");
for (const r of results) console.log(`${r.ok ? "ok    " : "FAILED"}  ${r.label}: ${r.line} (${r.seconds} s)`);
process.exit(results.every((r) => r.ok) ? 0 : 1);

/** The last run's counts, from the report scripts/test.mjs has vitest write. */
function summary() {
  try {
    const r = JSON.parse(readFileSync(".zeroloss/vitest-report.json", "utf8"));
    return { line: `${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`, files: r.testResults.length };
  } catch {
    return null;
  }
}
