// Runs vitest (all projects, or the arguments given) and ends with one plain line,
// "tests: N passed, N failed, N skipped", that any CI can read. Exits with vitest's code.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";

const report = ".zeroloss/vitest-report.json";
mkdirSync(".zeroloss", { recursive: true });
rmSync(report, { force: true });
const run = spawnSync(
  "vitest",
  ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...process.argv.slice(2)],
  {
    stdio: "inherit",
    // kafkajs 2.2.4 schedules a negative setTimeout on every connection and Node 24 warns
    // about each one (tulios/kafkajs#1751, harmless); the services pass the same flag.
    env: { ...process.env, NODE_OPTIONS: [process.env.NODE_OPTIONS, "--disable-warning=TimeoutNegativeWarning"].filter(Boolean).join(" ") },
  },
);
if (run.error) {
  console.error(`test: could not start vitest: ${run.error.message}`);
  process.exit(1);
}
let summary;
try {
  const r = JSON.parse(readFileSync(report, "utf8"));
  summary = { passed: r.numPassedTests, failed: r.numFailedTests + (r.numFailedTestSuites > 0 && r.numFailedTests === 0 ? r.numFailedTestSuites : 0), skipped: r.numPendingTests + r.numTodoTests };
} catch (err) {
  console.error(`test: no vitest report (${err.message})`);
  process.exit(run.status === 0 ? 1 : (run.status ?? 1));
}
console.log(`tests: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`);
process.exit(run.status ?? 1);
