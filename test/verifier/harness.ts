// The verifier on its own: a source and a target database (on the stack's two servers)
// that the test fills and damages directly, a zeroloss.yaml naming them, and
// `zeroloss verify` run through the CLI the way an operator runs it.
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import pg from "pg";
import { createTestDatabase, type TestDatabase } from "@zeroloss/devstack";
import { merge } from "../producer/harness.js";

export const CLI = resolve(import.meta.dirname, "../../packages/cli/bin/zeroloss.js");

/** The report of `zeroloss verify --json` (VerifyReport in packages/wire/src/reports.ts). */
export interface Report {
  result: "equal" | "drift" | "error";
  passes: number;
  sustain?: { seconds: number; reachedSeconds: number };
  error?: { code: string; message: string };
  tables: {
    table: string;
    result: string;
    sourceRows: number;
    targetRows: number;
    rowsCompared: number;
    driftRows: number;
    inFlight: number;
    problems: string[];
    notes: string[];
    rows: { key: Record<string, string>; kind: string; settled: boolean; columns: { column: string; source: string | null; target: string | null }[] }[];
  }[];
}

export interface VerifyRun {
  code: number;
  stdout: string;
  stderr: string;
  report: Report | null;
}

/** Runs `zeroloss verify --config FILE <args>` and parses its JSON report when --json is among the args. */
export function runVerify(configFile: string, args: string[] = [], timeoutMs = 180_000): Promise<VerifyRun> {
  return new Promise((resolveRun) => {
    execFile(
      process.execPath,
      [CLI, "verify", "--config", configFile, ...args],
      { env: { PATH: process.env["PATH"] ?? "" }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : -1;
        let report: Report | null = null;
        if (args.includes("--json") && stdout.trim() !== "") report = JSON.parse(stdout) as Report;
        resolveRun({ code, stdout, stderr, report });
      },
    );
  });
}

export interface VerifierFixture {
  readonly source: pg.Client;
  readonly target: pg.Client;
  readonly configFile: string;
  readonly sourceDb: TestDatabase;
  readonly targetDb: TestDatabase;
  /** The same SQL on both databases. */
  both(sql: string): Promise<void>;
  verify(args?: string[]): Promise<VerifyRun>;
  close(): Promise<void>;
}

export async function verifierFixture(stack: { source: string; target: string; kafka: readonly string[] }, name: string, config: Record<string, unknown> = {}): Promise<VerifierFixture> {
  const sourceDb = await createTestDatabase(stack.source, `${name}_s`);
  const targetDb = await createTestDatabase(stack.target, `${name}_t`);
  const source = new pg.Client({ connectionString: sourceDb.url });
  const target = new pg.Client({ connectionString: targetDb.url });
  await source.connect();
  await target.connect();
  const configFile = join(mkdtempSync(join(tmpdir(), "zeroloss-verifier-")), "zeroloss.yaml");
  const base = {
    source: { url: sourceDb.url, slot: `zl_${name}_none` },
    target: { url: targetDb.url },
    kafka: { brokers: [...stack.kafka] },
    log: { level: process.env["ZEROLOSS_TEST_LOG_LEVEL"] ?? "warn" },
  };
  writeFileSync(configFile, stringify(merge(base, config)));
  return {
    source,
    target,
    configFile,
    sourceDb,
    targetDb,
    async both(sql) {
      await source.query(sql);
      await target.query(sql);
    },
    verify: (args = ["--json"]) => runVerify(configFile, args),
    async close() {
      await source.end();
      await target.end();
      await sourceDb.drop();
      await targetDb.drop();
    },
  };
}
