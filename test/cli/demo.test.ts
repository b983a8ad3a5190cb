// `zeroloss demo` the way a newcomer runs it: its own local stack (in a private run folder),
// a short workload, --keep so the test can check the proof against the databases itself
// while everything still runs, then Ctrl-C, after which nothing of it may be left.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import pg from "pg";
import { ENV_KEYS, loadConfig } from "@zeroloss/config";
import { isAlive, pollUntil, sweepOrphans } from "@zeroloss/devstack";
import { testLogger } from "../setup/logger.js";
import { recordedPids } from "../setup/listeners.js";

const CLI = "packages/cli/bin/zeroloss.js";
const runDir = mkdtempSync(join(tmpdir(), "zeroloss-demo-run-"));
const demoDir = mkdtempSync(join(tmpdir(), "zeroloss-demo-out-"));
const env: NodeJS.ProcessEnv = { ...process.env, ZEROLOSS_RUN_DIR: runDir, ZEROLOSS_DEVSTACK: "local" };
for (const k of ENV_KEYS) delete env[k.variable];
const TABLES = ["public.accounts", "public.payments", "public.ledger_entries"];

interface TableLine {
  sourceRows: number;
  targetRows: number;
  emitted: number;
  validated: number;
  mismatched: number;
  content: string;
}

const num = (s: string) => Number(s.replaceAll(",", ""));

/** The table of the printed proof, by table name. */
function parseTables(report: string): Map<string, TableLine> {
  const rows = new Map<string, TableLine>();
  for (const line of report.split("\n")) {
    const m = /^\s+(public\.\w+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+(\S.*)$/.exec(line);
    if (m === null) continue;
    rows.set(m[1]!, { sourceRows: num(m[2]!), targetRows: num(m[3]!), emitted: num(m[4]!), validated: num(m[5]!), mismatched: num(m[6]!), content: m[7]!.trim() });
  }
  return rows;
}

/** Row count and an md5 over every row's text, in key order, of the source's columns: computed the same way on each side. */
async function digest(url: string, table: string, columns: string[]): Promise<{ rows: number; md5: string }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query("SET TimeZone = 'UTC'");
    const cols = columns.map((x) => pg.escapeIdentifier(x)).join(", ");
    const [schema, name] = table.split(".") as [string, string];
    const r = await c.query<{ rows: string; md5: string }>(
      `SELECT count(*)::text AS rows, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t.id), '')) AS md5
       FROM (SELECT ${cols} FROM ${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)}) t`,
    );
    return { rows: Number(r.rows[0]!.rows), md5: r.rows[0]!.md5 };
  } finally {
    await c.end();
  }
}

let demo: ChildProcess | undefined;

afterAll(async () => {
  if (demo !== undefined && demo.exitCode === null) demo.kill("SIGKILL");
  await sweepOrphans(runDir, testLogger("demo"));
  rmSync(runDir, { recursive: true, force: true });
  rmSync(demoDir, { recursive: true, force: true });
});

describe("zeroloss demo", () => {
  it("refuses to write into services named by ZEROLOSS_SOURCE_URL & co., before starting anything", () => {
    const r = spawnSync(process.execPath, [CLI, "demo", "--dir", demoDir], {
      encoding: "utf8",
      env: { ...env, ZEROLOSS_SOURCE_URL: "postgres://x@127.0.0.1:1/s", ZEROLOSS_TARGET_URL: "postgres://x@127.0.0.1:1/t", ZEROLOSS_KAFKA_BROKERS: "127.0.0.1:1" },
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toContain("DEMO_EXTERNAL_STACK");
    expect(readdirSync(runDir)).toEqual([]);
  });

  it("proves a payments stream end to end, keeps it running for exploration, and leaves nothing behind on Ctrl-C", { timeout: 300_000 }, async () => {
    const proc = spawn(process.execPath, [CLI, "demo", "--duration", "8", "--keep", "--dir", demoDir], { env, stdio: ["ignore", "pipe", "pipe"] });
    demo = proc;
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));

    await pollUntil(async () => (stderr.includes("Still running (--keep)") ? true : undefined), {
      timeoutMs: 240_000,
      intervalMs: 250,
      what: "the demo to print its proof and keep running",
      abortIf: () => {
        if (proc.exitCode !== null) throw new Error(`the demo exited ${proc.exitCode} early:\n${stderr}\n${stdout}`);
      },
    });

    // Progress while it ran: the dashboard URL and the workload's advance.
    expect(stderr).toMatch(/the counter's dashboard: http:\/\/127\.0\.0\.1:\d+\//);
    expect(stderr).toMatch(/\d+ of 8 s: rows emitted [\d,]+ · in Kafka/);

    // The printed proof.
    const report = stdout.trimStart();
    expect(report.split("\n")[0], report).toBe("PROVEN: nothing was lost or altered on the way.");
    expect(report.match(/^\s+ok\s{4,}/gm)?.length, report).toBe(5);
    expect(report).not.toMatch(/FAILED/);
    const tables = parseTables(report);
    expect([...tables.keys()].sort()).toEqual([...TABLES].sort());
    for (const [table, t] of tables) {
      expect(t.content, table).toBe("equal");
      expect(t.mismatched, table).toBe(0);
      expect(t.targetRows, table).toBe(t.sourceRows);
      expect(t.emitted, table).toBeGreaterThan(0); // rows: the snapshot's (many per bulk record) and one per streamed change
      expect(t.validated, table).toBe(t.emitted);
    }
    expect(report).toMatch(/backlog: +1,000 accounts, 10,000 payments \(2,000 with a TOASTed remittance\), 20,000 ledger entries/);
    expect(report).toMatch(/latency: +source commit → target commit p50 \d/);

    // It ended with a cutover, and printed where the signed certificate and its page are.
    const certificate = /certificate: (\S+certificate\.json)/.exec(report)?.[1];
    const publicKey = /--public-key (\S+public\.pem)/.exec(report)?.[1];
    expect(certificate, report).toBe(join(demoDir, "cutover", "certificate.json"));
    expect(readFileSync(join(demoDir, "cutover", "certificate.html"), "utf8")).toContain("Zero-loss certificate");
    const checked = spawnSync(process.execPath, [CLI, "certificate", "verify", certificate!, "--public-key", publicKey!], { encoding: "utf8", env, timeout: 30_000 });
    expect(checked.stdout, checked.stderr).toMatch(/^valid: .* it proves the cutover at fence LSN [0-9A-F]+\/[0-9A-F]+: all 3 table\(s\) equal/);
    const proof = JSON.parse(readFileSync(join(demoDir, "proof.json"), "utf8")) as { proven: boolean; workload: { transactions: number; changes: number; byOperation: Record<string, number> } };
    expect(proof.proven).toBe(true);
    expect(proof.workload.transactions).toBeGreaterThan(0);
    for (const op of ["pay", "settle", "refund", "profile"]) expect(proof.workload.byOperation[op], op).toBeGreaterThan(0);

    // The proof checked against the databases themselves, while the demo keeps them running.
    const config = await loadConfig({ file: join(demoDir, "zeroloss.yaml"), env: {} });
    for (const table of TABLES) {
      const src = new pg.Client({ connectionString: config.source.url });
      await src.connect();
      const cols = await src.query<{ column_name: string }>(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
        [table.split(".")[1]],
      );
      await src.end();
      const columns = cols.rows.map((r) => r.column_name);
      const [s, t] = await Promise.all([digest(config.source.url, table, columns), digest(config.target.url, table, columns)]);
      expect(s.rows, table).toBe(tables.get(table)!.sourceRows);
      expect(t, table).toEqual(s);
    }
    const toasted = new pg.Client({ connectionString: config.source.url });
    await toasted.connect();
    const toast = await toasted.query<{ n: string }>("SELECT count(*)::text AS n FROM payments WHERE remittance IS NOT NULL AND pg_column_size(remittance) > 2000");
    await toasted.end();
    expect(Number(toast.rows[0]!.n)).toBeGreaterThan(0);

    // The kept services answer the operator's commands.
    const status = spawnSync(process.execPath, [CLI, "status", "--config", join(demoDir, "zeroloss.yaml")], { encoding: "utf8", env, timeout: 30_000 });
    expect(status.status, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^OK: every closed window balances/);
    const dashboard = /dashboard +(http:\/\/\S+)/.exec(stderr)![1]!;
    expect((await fetch(dashboard)).status).toBe(200);

    // Ctrl-C: everything stops, and the exit code still says "proven".
    const pids = recordedPids(runDir);
    expect(pids.length).toBeGreaterThanOrEqual(6); // 2 PostgreSQL, Kafka, producer, consumer, counter
    proc.kill("SIGINT");
    expect(await exited, stderr).toBe(0);
    expect(stderr).toContain("stopped: the stack and the services are gone");
    await pollUntil(async () => (pids.every((p) => !isAlive(p)) ? true : undefined), { timeoutMs: 30_000, what: `pids ${pids.join(",")} to exit` });
    expect(readdirSync(runDir).filter((e) => e !== "detached.json")).toEqual([]);
  });

  it("--encoding avro runs the whole demo through a schema registry it starts, and proves it", { timeout: 300_000 }, async () => {
    const dir = join(demoDir, "avro");
    const run = spawn(process.execPath, [CLI, "demo", "--encoding", "avro", "--duration", "4", "--json", "--dir", dir], { env, stdio: ["ignore", "pipe", "pipe"] });
    demo = run;
    let stdout = "";
    let stderr = "";
    run.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    run.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => run.once("exit", (c) => resolve(c)));
    expect(code, `${stderr}\n${stdout}`).toBe(0);
    expect(stderr).toContain("a schema registry (Avro)");
    const proof = JSON.parse(stdout) as { proven: boolean; claims: { claim: string; ok: boolean }[]; encoding: { kind: string; registry: string; subjects: Record<string, number[]> } };
    expect(proof.proven).toBe(true);
    expect(proof.encoding.kind).toBe("avro");
    expect(proof.encoding.registry).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/apis\/ccompat\/v7$/);
    expect(Object.keys(proof.encoding.subjects).sort()).toEqual(TABLES.map((t) => `zeroloss.${t}-value`).sort());
    expect(proof.claims.find((c) => c.claim.includes("schema registry"))?.ok).toBe(true);
    const config = await loadConfig({ file: join(dir, "zeroloss.yaml"), env: {} });
    expect(config.kafka.encoding).toBe("avro");
    expect(readdirSync(runDir).filter((e) => e !== "detached.json")).toEqual([]); // the stack, registry included, is gone
  });
});
