// Running the real `zeroloss` CLI from a test, as a user would: its own process, the
// environment without ZEROLOSS_* variables (they would override the config files a test
// writes), stdout and stderr collected, killed after a deadline; and the source and target
// databases such a test runs it against.
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import pg from "pg";
import { createTestDatabase, type TestDatabase } from "@zeroloss/devstack";

export const CLI = resolve(import.meta.dirname, "../../packages/cli/bin/zeroloss.js");

/** The environment without ZEROLOSS_* variables. */
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("ZEROLOSS_")));
}

export function runCli(args: readonly string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const proc = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"], env: cleanEnv() });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
    proc.once("error", fail);
    proc.once("close", (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** A fresh source and target database, each with `ddl` run on it, and a connection to each. */
export async function databasePair(stack: { readonly source: string; readonly target: string }, name: string, ddl: readonly string[]): Promise<{ src: TestDatabase; tgt: TestDatabase; s: pg.Client; t: pg.Client }> {
  const src = await createTestDatabase(stack.source, `${name}_src`);
  const tgt = await createTestDatabase(stack.target, `${name}_tgt`);
  const s = new pg.Client({ connectionString: src.url });
  const t = new pg.Client({ connectionString: tgt.url });
  await s.connect();
  await t.connect();
  for (const sql of ddl) {
    await s.query(sql);
    await t.query(sql);
  }
  return { src, tgt, s, t };
}
