// `zeroloss slot status | drop` against a real source, and `zeroloss producer` (the CLI
// spawning the producer service) on bad input: every failure is one readable line with a
// stable code and the fix, no stack trace, and the process ends by itself.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pg from "pg";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, pollUntil, type TestDatabase } from "@zeroloss/devstack";
import { cleanEnv } from "./run-cli.js";

const stack = inject("stack");
const CLI = resolve(import.meta.dirname, "../../packages/cli/bin/zeroloss.js");
const NO_STACK_TRACE = /^\s+at /m;

const dir = mkdtempSync(join(tmpdir(), "zeroloss-cli-slot-"));
const unique = () => randomBytes(4).toString("hex");

/** The environment without ZEROLOSS_* variables: they would override the config files written here. */
function writeConfig(name: string, source: Record<string, unknown>): string {
  const file = join(dir, `${name}-${unique()}.yaml`);
  const config = {
    source,
    target: { url: stack.target },
    kafka: { brokers: [...stack.kafka], topicPrefix: `zl_cli_${name}_${unique()}`, partitions: 1 },
    producer: { http: { port: 0, host: "127.0.0.1" } },
    log: { level: "warn" },
  };
  writeFileSync(file, stringify(config));
  return file;
}

interface CliRun {
  readonly proc: ChildProcess;
  output(): string;
  stdout(): string;
  stderr(): string;
  /** Polls (with a deadline) until the process has exited and its output is complete. */
  finished(timeoutMs?: number): Promise<number>;
}

const started: CliRun[] = [];

function cli(args: string[]): CliRun {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"], env: cleanEnv() });
  let stdout = "";
  let stderr = "";
  let all = "";
  let closed: number | undefined;
  proc.stdout?.on("data", (d: Buffer) => ((stdout += d.toString()), (all += d.toString())));
  proc.stderr?.on("data", (d: Buffer) => ((stderr += d.toString()), (all += d.toString())));
  proc.once("close", (code, signal) => (closed = code ?? (signal === null ? -1 : 128)));
  const run: CliRun = {
    proc,
    output: () => all,
    stdout: () => stdout,
    stderr: () => stderr,
    finished: (timeoutMs = 60_000) =>
      pollUntil(async () => closed, { timeoutMs, intervalMs: 100, what: `zeroloss ${args.join(" ")} to exit (output so far:\n${all})` }),
  };
  started.push(run);
  return run;
}

async function cliDone(args: string[], timeoutMs?: number) {
  const run = cli(args);
  const code = await run.finished(timeoutMs);
  return { code, stdout: run.stdout(), stderr: run.stderr(), output: run.output() };
}

async function slotRow(client: pg.Client, slot: string): Promise<{ active: boolean } | undefined> {
  const res = await client.query<{ active: boolean }>("SELECT active FROM pg_replication_slots WHERE slot_name = $1", [slot]);
  return res.rows[0];
}

/** Waits until the processes this file started have left `client`'s database (drop() fails on open sessions). */
async function onlySessionLeft(client: pg.Client): Promise<void> {
  await pollUntil(
    async () => {
      const res = await client.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
      return Number(res.rows[0]?.n) === 0 ? true : undefined;
    },
    { timeoutMs: 30_000, what: "other sessions to leave the test database" },
  );
}

afterAll(async () => {
  // A test that failed half-way must not leave a CLI (or the producer it runs) behind:
  // SIGTERM reaches the CLI, which forwards it to the producer.
  for (const run of started) {
    if (run.proc.exitCode === null && run.proc.signalCode === null) {
      run.proc.kill("SIGTERM");
      await run.finished(30_000).catch(() => run.proc.kill("SIGKILL"));
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("zeroloss slot status | drop", () => {
  let db: TestDatabase;
  let sql: pg.Client;
  const slot = `zl_cli_slot_${unique()}`;
  let config: string;
  let missingConfig: string;

  beforeAll(async () => {
    db = await createTestDatabase(stack.source, "cli_slot");
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    await sql.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    config = writeConfig("slot", { url: db.url, slot });
    missingConfig = writeConfig("slot_missing", { url: db.url, slot: `zl_cli_absent_${unique()}` });
  });

  afterAll(() => dropSlotAndDatabase(sql, slot, db));

  it("shows an existing slot: exit 0, its position as JSON", async () => {
    const r = await cliDone(["slot", "status", "--config", config, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const status = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(status).toMatchObject({ slot, exists: true, plugin: "pgoutput", active: false, activePid: null });
    expect(status["confirmedFlushLsn"]).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(status["restartLsn"]).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(status["currentLsn"]).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(status["walStatus"]).toBe("reserved");
    expect(typeof status["retainedWalBytes"]).toBe("number");
    expect(typeof status["lagBytes"]).toBe("number");
    expect(Array.isArray(status["advice"])).toBe(true);
  });

  it("shows an existing slot as a readable table", async () => {
    const r = await cliDone(["slot", "status", "--config", config]);
    expect(r.code).toBe(0);
    for (const label of ["slot", "exists", "plugin", "active", "restart_lsn", "confirmed_flush_lsn", "wal_status", "retained WAL", "lag", "current WAL LSN"]) {
      expect(r.stdout).toMatch(new RegExp(`^${label} +\\S`, "m"));
    }
    expect(r.stdout).toMatch(/^retained WAL +\d+(\.\d)? (B|KiB|MiB|GiB) \(\d+ bytes\)$/m);
  });

  it("a missing slot: exit 1, advice names the re-snapshot command", async () => {
    const json = await cliDone(["slot", "status", "--config", missingConfig, "--json"]);
    expect(json.code).toBe(1);
    const status = JSON.parse(json.stdout) as { exists: boolean; advice: string[] };
    expect(status.exists).toBe(false);
    expect(status.advice.join("\n")).toContain(`zeroloss producer --config ${missingConfig} --resnapshot`);
    const text = await cliDone(["slot", "status", "--config", missingConfig]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/re-snapshot is needed/);
    expect(text.stdout).toContain("--resnapshot");
  });

  it("slot drop refuses without --yes (exit 2) and keeps the slot", async () => {
    const r = await cliDone(["slot", "drop", "--config", config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/without --yes/);
    expect(r.stderr).toMatch(/re-snapshot/);
    expect(await slotRow(sql, slot)).toBeDefined();
  });

  it("slot drop refuses a slot in use (SLOT_ACTIVE, exit 1)", async () => {
    // A walsender streaming from the slot makes it active, as a running producer would.
    const repl = new pg.Client({ connectionString: db.url, replication: "database" } as pg.ClientConfig);
    await repl.connect();
    repl.on("error", () => undefined);
    const streaming = repl.query(`START_REPLICATION SLOT ${slot} LOGICAL 0/0 (proto_version '1', publication_names 'zl_none')`).catch(() => undefined);
    try {
      await pollUntil(async () => ((await slotRow(sql, slot))?.active === true ? true : undefined), { timeoutMs: 30_000, what: `slot ${slot} to be active` });
      const status = JSON.parse((await cliDone(["slot", "status", "--config", config, "--json"])).stdout) as { active: boolean; activePid: number | null };
      expect(status.active).toBe(true);
      expect(status.activePid).toEqual(expect.any(Number));
      const r = await cliDone(["slot", "drop", "--config", config, "--yes"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^zeroloss: error \[SLOT_ACTIVE\]: .*in use by process \d+/m);
      expect(r.output).not.toMatch(NO_STACK_TRACE);
    } finally {
      await repl.end();
      await streaming;
    }
    await pollUntil(async () => ((await slotRow(sql, slot))?.active === false ? true : undefined), { timeoutMs: 30_000, what: `slot ${slot} to be released` });
  });

  it("slot drop --yes drops it (exit 0), and says so when it is already gone", async () => {
    const r = await cliDone(["slot", "drop", "--config", config, "--yes"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`dropped replication slot ${slot}`);
    expect(await slotRow(sql, slot)).toBeUndefined();
    const again = await cliDone(["slot", "drop", "--config", config, "--yes"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/does not exist.*nothing to drop/);
  });
});

describe("zeroloss producer on bad input", () => {
  let db: TestDatabase;
  let sql: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase(stack.source, "cli_prod_err");
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  });

  afterAll(async () => {
    if (sql !== undefined) {
      await onlySessionLeft(sql);
      await sql.end();
    }
    await db?.drop();
  });

  /** Runs `zeroloss producer --config <file>` and expects it to fail by itself with `code`. */
  async function failsWith(config: string, code: string) {
    const r = await cliDone(["producer", "--config", config], 90_000);
    expect(r.code, r.output).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^zeroloss producer: error \\[${code}\\]: `, "m"));
    expect(r.output).not.toMatch(NO_STACK_TRACE);
    return r;
  }

  it("a source table without a primary key: TABLE_WITHOUT_KEY, naming the table and the fixes", async () => {
    await sql.query("CREATE TABLE public.no_key (a int, b text)");
    await sql.query("CREATE TABLE public.has_key (id int PRIMARY KEY)");
    const slot = `zl_cli_nokey_${unique()}`;
    const r = await failsWith(writeConfig("nokey", { url: db.url, slot, publication: `zl_cli_nokey_${unique()}` }), "TABLE_WITHOUT_KEY");
    expect(r.stderr).toContain("public.no_key");
    expect(r.stderr).not.toContain("public.has_key");
    expect(r.stderr).toContain("ADD PRIMARY KEY");
    expect(r.stderr).toContain("REPLICA IDENTITY USING INDEX");
    expect(r.stderr).toContain(`source.exclude: ["public.no_key"]`);
    // Refused before anything was created on the source.
    expect(await slotRow(sql, slot)).toBeUndefined();
  });

  it("a wrong password: PG_AUTH_FAILED, saying authentication failed", async () => {
    const url = new URL(db.url);
    expect(url.password, "the stack's source URL carries a password").not.toBe("");
    url.password = `wrong-${unique()}`;
    const r = await failsWith(writeConfig("badpass", { url: url.toString(), slot: `zl_cli_badpass_${unique()}` }), "PG_AUTH_FAILED");
    expect(r.stderr).toMatch(/authentication failed/i);
    expect(r.stderr).not.toContain(url.password);
  });

  it("a database that does not exist: PG_DATABASE_MISSING, naming it", async () => {
    const url = new URL(db.url);
    const missing = `zl_cli_missing_${unique()}`;
    url.pathname = `/${missing}`;
    const r = await failsWith(writeConfig("nodb", { url: url.toString(), slot: `zl_cli_nodb_${unique()}` }), "PG_DATABASE_MISSING");
    expect(r.stderr).toContain(missing);
  });

  it("a config file that does not exist: exit 2 from the producer, passed through", async () => {
    const r = await cliDone(["producer", "--config", join(dir, "absent.yaml")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/file not found/);
    expect(r.output).not.toMatch(NO_STACK_TRACE);
  });
});

describe("zeroloss producer runs the producer service", () => {
  let db: TestDatabase;
  let sql: pg.Client;
  const slot = `zl_cli_run_${unique()}`;

  beforeAll(async () => {
    db = await createTestDatabase(stack.source, "cli_prod_run");
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    await sql.query("CREATE TABLE public.items (id int PRIMARY KEY, v text)");
    await sql.query("INSERT INTO public.items SELECT g, 'v' || g FROM generate_series(1, 10) g");
  });

  afterAll(() => dropSlotAndDatabase(sql, slot, db));

  it("streams until SIGTERM, which it forwards: exit 0, the slot released; slot drop refuses it meanwhile", async () => {
    const config = writeConfig("run", { url: db.url, slot, publication: `zl_cli_run_${unique()}` });
    writeFileSync(config, readFileSync(config, "utf8").replace("level: warn", "level: info")); // its "streaming changes" line is the signal below
    const producer = cli(["producer", "--config", config]);
    // Active once streaming has begun: between the snapshot's connection and the stream's,
    // the slot is briefly inactive, and a drop then would find nothing to refuse.
    await pollUntil(async () => (producer.output().includes("streaming changes") && (await slotRow(sql, slot))?.active === true ? true : undefined), {
      timeoutMs: 90_000,
      what: `the producer to stream from slot ${slot}`,
      abortIf: () => {
        if (producer.proc.exitCode !== null) throw new Error(`zeroloss producer exited with ${producer.proc.exitCode}:\n${producer.output()}`);
      },
    });
    const drop = await cliDone(["slot", "drop", "--config", config, "--yes"]);
    expect(drop.code).toBe(1);
    expect(drop.stderr).toContain("[SLOT_ACTIVE]");

    producer.proc.kill("SIGTERM");
    expect(await producer.finished(60_000), producer.output()).toBe(0);
    expect(producer.output()).not.toMatch(NO_STACK_TRACE);
    await pollUntil(async () => ((await slotRow(sql, slot))?.active === false ? true : undefined), { timeoutMs: 30_000, what: `slot ${slot} to be released` });

    const status = JSON.parse((await cliDone(["slot", "status", "--config", config, "--json"])).stdout) as { exists: boolean; active: boolean };
    expect(status).toMatchObject({ exists: true, active: false });
    expect((await cliDone(["slot", "drop", "--config", config, "--yes"])).code).toBe(0);
    expect(await slotRow(sql, slot)).toBeUndefined();
  });
});

/** Drops the test's slot, checks no session leaked, then drops its database. */
async function dropSlotAndDatabase(sql: pg.Client | undefined, slot: string, db: TestDatabase | undefined): Promise<void> {
  if (sql !== undefined) {
    await sql.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", [slot]);
    await onlySessionLeft(sql);
    await sql.end();
  }
  await db?.drop();
}
