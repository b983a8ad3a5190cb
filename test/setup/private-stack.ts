// The `zeroloss` command run against a private run folder in local mode: for tests of the
// dev stack's own lifecycle, which must not touch the shared stack or each other.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PrivateStackCli {
  readonly runDir: string;
  readonly env: NodeJS.ProcessEnv;
  zeroloss(args: string[]): { code: number | null; stdout: string; stderr: string };
}

export function privateStackCli(prefix: string, timeoutMs = 180_000): PrivateStackCli {
  const runDir = mkdtempSync(join(tmpdir(), `zeroloss-${prefix}-`));
  const env: NodeJS.ProcessEnv = { ...process.env, ZEROLOSS_RUN_DIR: runDir, ZEROLOSS_DEVSTACK: "local", ZEROLOSS_LOG_LEVEL: "warn" };
  for (const v of ["ZEROLOSS_SOURCE_URL", "ZEROLOSS_TARGET_URL", "ZEROLOSS_KAFKA_BROKERS", "ZEROLOSS_REGISTRY_URL"]) delete env[v];
  return {
    runDir,
    env,
    zeroloss(args) {
      const r = spawnSync(process.execPath, ["packages/cli/bin/zeroloss.js", ...args], { encoding: "utf8", env, timeout: timeoutMs });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    },
  };
}
