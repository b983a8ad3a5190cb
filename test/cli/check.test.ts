// `zeroloss check`, the preflight, against real source and target databases, through the
// real CLI: every problem named in one run, nothing changed without --fix, --fix creating the
// types the target lacks (the type torture case: an enum, a domain and a composite built from
// both), exit 0 for a clean pair, 1 for problems, 2 when it cannot check.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pg from "pg";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@zeroloss/devstack";

const stack = inject("stack");
const CLI = resolve(import.meta.dirname, "../../packages/cli/bin/zeroloss.js");
const dir = mkdtempSync(join(tmpdir(), "zeroloss-cli-check-"));
const unique = () => randomBytes(4).toString("hex");

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Finding {
  area: string;
  severity: "error" | "warning";
  check: string;
  object: { kind: string; name: string };
  problem: string;
  fix: string;
  code?: string;
}
interface JsonReport {
  source: string;
  target: string;
  findings: Finding[];
  created: { type: string; kind: string; sql: string }[];
  summary: { errors: number; warnings: number; ready: boolean; exitCode: number; tables: number; targetTables: number; created: number };
}

function writeConfig(sourceUrl: string, targetUrl: string, extra: { source?: Record<string, unknown>; target?: Record<string, unknown> } = {}): string {
  const file = join(dir, `check-${unique()}.yaml`);
  writeFileSync(
    file,
    stringify({
      source: { url: sourceUrl, slot: `zl_check_${unique()}`, ...extra.source },
      target: { url: targetUrl, ...extra.target },
      kafka: { brokers: [...stack.kafka] },
      log: { level: "warn" },
    }),
  );
  return file;
}

/** Runs the CLI to its end; the environment's ZEROLOSS_* variables would override the file. */
function check(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("ZEROLOSS_")));
  const proc = spawn(process.execPath, [CLI, "check", ...args], { stdio: ["ignore", "pipe", "pipe"], env });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((done, fail) => {
    const timer = setTimeout(() => (proc.kill("SIGKILL"), fail(new Error(`zeroloss check ${args.join(" ")} did not end in 30 s:\n${stdout}${stderr}`))), 30_000);
    proc.once("close", (code) => (clearTimeout(timer), done({ code: code ?? -1, stdout, stderr })));
  });
}

async function checkJson(config: string, ...more: string[]): Promise<{ code: number; report: JsonReport; stderr: string }> {
  const r = await check(["--config", config, "--json", ...more]);
  expect(r.stderr).toBe("");
  return { code: r.code, report: JSON.parse(r.stdout) as JsonReport, stderr: r.stderr };
}

async function sql(url: string, statements: string): Promise<pg.QueryResult[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = (await c.query(statements)) as pg.QueryResult | pg.QueryResult[];
    return Array.isArray(r) ? r : [r];
  } finally {
    await c.end();
  }
}

const named = (report: JsonReport, check: string) => report.findings.filter((f) => f.check === check).map((f) => f.object.name);

describe("zeroloss check", () => {
  const dbs: TestDatabase[] = [];
  const database = async (server: string, prefix: string) => {
    const db = await createTestDatabase(server, prefix);
    dbs.push(db);
    return db;
  };
  afterAll(async () => {
    for (const db of dbs) await db.drop();
  });

  describe("the type torture case: an enum, a domain and a composite built from both", () => {
    let source: TestDatabase;
    let target: TestDatabase;
    let config: string;

    beforeAll(async () => {
      source = await database(stack.source, "check_types_src");
      target = await database(stack.target, "check_types_tgt");
      await sql(
        source.url,
        `CREATE TYPE mood AS ENUM ('sad', 'ok', 'it''s \\ fine');
         CREATE DOMAIN posint AS integer DEFAULT 1 NOT NULL CONSTRAINT positive CHECK (VALUE > 0);
         CREATE TYPE pair AS (a posint, m mood);
         CREATE TABLE visits (id bigint PRIMARY KEY, m mood, moods mood[], n posint, p pair)`,
      );
      config = writeConfig(source.url, target.url);
    });

    it("names all three in one run, exit 1, and changes nothing", async () => {
      const { code, report } = await checkJson(config);
      expect(code).toBe(1);
      const types = report.findings.filter((f) => f.area === "types");
      expect(types.map((f) => [f.check, f.object.name, f.code])).toEqual([
        ["type-missing", "public.mood", "TARGET_TYPE_UNKNOWN"],
        ["type-missing", "public.pair", "TARGET_TYPE_UNKNOWN"],
        ["type-missing", "public.posint", "TARGET_TYPE_UNKNOWN"],
      ]);
      const mood = types[0] as Finding;
      expect(mood.problem).toBe("enum public.mood does not exist in the target (used by columns public.visits.m, public.visits.moods; needed by type public.pair); the consumer would stop the table's partitions");
      expect(mood.fix).toBe(`zeroloss check --fix creates it from the source's catalog: CREATE TYPE "public"."mood" AS ENUM ('sad', 'ok', E'it''s \\\\ fine');`);
      // The rest of the pair is clean: the types are the only errors.
      expect(report.findings.filter((f) => f.severity === "error" && f.area !== "types")).toEqual([]);
      const left = await sql(target.url, "SELECT count(*)::int AS n FROM pg_type WHERE typname IN ('mood', 'posint', 'pair')");
      expect(left[0]?.rows[0]).toEqual({ n: 0 });
    });

    it("--fix creates them as the source defines them, dependencies first; the next check has no type finding", async () => {
      const fixed = await checkJson(config, "--fix");
      expect(fixed.report.created.map((c) => [c.kind, c.type])).toEqual([
        ["enum", "public.mood"],
        ["domain", "public.posint"],
        ["composite", "public.pair"],
      ]);
      expect(fixed.report.findings.filter((f) => f.area === "types")).toEqual([]);
      expect(fixed.code).toBe(0);

      const definitions = `SELECT (SELECT string_agg(enumlabel, '|' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = 'mood'::regtype) AS labels,
                               (SELECT format_type(typbasetype, typtypmod) || ' ' || typnotnull || ' ' || typdefault FROM pg_type WHERE oid = 'posint'::regtype) AS domain,
                               (SELECT string_agg(pg_get_constraintdef(oid), ',') FROM pg_constraint WHERE contypid = 'posint'::regtype) AS checks,
                               (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'pair'::regclass) AS pair`;
      const [onSource] = await sql(source.url, definitions);
      const [onTarget] = await sql(target.url, definitions);
      expect(onTarget?.rows).toEqual(onSource?.rows);
      expect(onTarget?.rows[0]).toMatchObject({ labels: "sad|ok|it's \\ fine", pair: "a posint,m mood" });

      const again = await checkJson(config);
      expect(again.code).toBe(0);
      expect(again.report.findings.filter((f) => f.area === "types")).toEqual([]);
      expect(again.report.created).toEqual([]);
    });
  });

  describe("a table without a key, a target table missing a column, a foreign key, an extension's type", () => {
    let source: TestDatabase;
    let target: TestDatabase;
    let config: string;
    let stopConfig: string;
    let citext = false;

    beforeAll(async () => {
      source = await database(stack.source, "check_tables_src");
      target = await database(stack.target, "check_tables_tgt");
      const available = await sql(source.url, "SELECT 1 FROM pg_available_extensions WHERE name = 'citext'");
      citext = (available[0]?.rowCount ?? 0) > 0;
      await sql(
        source.url,
        `CREATE TABLE events (at timestamptz, what text);
         CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric(12,2));
         CREATE TABLE entries (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, account_id int);
         ${citext ? "CREATE EXTENSION citext; CREATE TABLE people (id int PRIMARY KEY, email citext);" : ""}`,
      );
      await sql(
        target.url,
        `CREATE TABLE accounts (id int PRIMARY KEY, owner text);
         CREATE TABLE entries (id int PRIMARY KEY, account_id int CONSTRAINT entries_account_fk REFERENCES accounts (id));
         CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
         CREATE TRIGGER touch_accounts BEFORE UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION touch();`,
      );
      config = writeConfig(source.url, target.url);
      stopConfig = writeConfig(source.url, target.url, { target: { schemaChanges: "stop" } });
    });

    it("names each, grouped by area, with its fix; exit 1", async () => {
      const r = await check(["--config", config]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(1);
      const area = (title: string) => {
        const from = r.stdout.indexOf(`\n${title}\n`);
        expect(from).toBeGreaterThan(0);
        const rest = r.stdout.slice(from + title.length + 2);
        return rest.slice(0, rest.search(/\n\n/));
      };
      expect(area("Tables and keys")).toMatch(/^ {2}error {4}table public\.events \[TABLE_WITHOUT_KEY\]: has no primary key/);
      expect(area("Tables and keys")).toContain('fix: ALTER TABLE "public"."events" ADD PRIMARY KEY');
      expect(area("Target tables")).toContain("warning  column public.accounts.balance: is missing in the target (source type numeric(12,2)); target.schemaChanges is apply: the consumer adds it");
      expect(area("Foreign keys and triggers in the target")).toContain("warning  constraint public.entries.entries_account_fk: FOREIGN KEY (account_id) REFERENCES accounts(id)");
      expect(area("Foreign keys and triggers in the target")).toContain("warning  trigger public.accounts.touch_accounts: CREATE TRIGGER touch_accounts BEFORE UPDATE ON public.accounts");
      // The consumer applies with session_replication_role replica (the default): the key is not checked, the ordinary trigger does not fire.
      expect(area("Foreign keys and triggers in the target")).toMatch(/entries_account_fk.*not checked on the rows the consumer applies/);
      expect(area("Foreign keys and triggers in the target")).toMatch(/touch_accounts.*does not fire on the rows the consumer writes/);
      expect(area("Sequences")).toContain("warning  sequence public.entries_id_seq: belongs to public.entries.id (GENERATED AS IDENTITY)");
      expect(area("Sequences")).toContain("zeroloss sequences sync");
      expect(area("Privileges")).toBe("  ok");
      if (citext) {
        expect(area("Types in the target")).toMatch(/^ {2}error {4}extension citext \[TARGET_TYPE_UNKNOWN\]: type public\.citext \(used by column public\.people\.email\) comes from extension citext/);
        expect(area("Types in the target")).toContain('CREATE EXTENSION IF NOT EXISTS "citext" WITH SCHEMA "public";');
      }
      expect(r.stdout).toMatch(/\n\d+ errors?, \d+ warnings: problems found \(exit 1\)\n$/);
    });

    it("target.schemaChanges stop: the missing column is an error the consumer would stop on", async () => {
      const { code, report } = await checkJson(stopConfig);
      expect(code).toBe(1);
      expect(report.findings.find((f) => f.object.name === "public.accounts.balance")).toMatchObject({
        severity: "error",
        check: "column-missing",
        code: "TARGET_COLUMN_MISSING",
        fix: 'ALTER TABLE "public"."accounts" ADD COLUMN "balance" numeric(12,2);',
      });
    });

    it("--json: one object, the findings (area, severity, check, object, problem, fix, code) and a summary", async () => {
      const { code, report } = await checkJson(config);
      expect(code).toBe(1);
      expect(Object.keys(report).sort()).toEqual(["created", "findings", "source", "summary", "target"]);
      expect(report.source).toBe(`${new URL(source.url).username}@${new URL(source.url).hostname}:${new URL(source.url).port}/${source.name}`);
      for (const f of report.findings) {
        expect(["source-settings", "tables", "types", "target-tables", "constraints", "sequences", "privileges"]).toContain(f.area);
        expect(["error", "warning"]).toContain(f.severity);
        expect(f.check).toMatch(/^[a-z-]+$/);
        expect(typeof f.object.kind).toBe("string");
        expect(f.object.name.length).toBeGreaterThan(0);
        expect(f.problem.length).toBeGreaterThan(0);
        expect(f.fix.length).toBeGreaterThan(0);
        expect(Object.keys(f).every((k) => ["area", "severity", "check", "object", "problem", "fix", "code"].includes(k))).toBe(true);
      }
      expect(named(report, "table-without-key")).toEqual(["public.events"]);
      expect(named(report, "column-missing")).toEqual(["public.accounts.balance"]);
      expect(named(report, "foreign-key")).toEqual(["public.entries.entries_account_fk"]);
      expect(named(report, "slot-wal-keep-size")).toEqual(["max_slot_wal_keep_size"]);
      const errors = report.findings.filter((f) => f.severity === "error").length;
      expect(report.summary).toEqual({
        errors,
        warnings: report.findings.length - errors,
        ready: false,
        exitCode: 1,
        tables: citext ? 4 : 3,
        targetTables: 2,
        created: 0,
      });
    });
  });

  describe("a clean pair: a target table as the consumer makes it, another the consumer will create", () => {
    let target: TestDatabase;
    let config: string;

    beforeAll(async () => {
      const source = await database(stack.source, "check_clean_src");
      target = await database(stack.target, "check_clean_tgt");
      await sql(source.url, "CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL); CREATE TABLE payments (id bigint PRIMARY KEY, amount numeric(12,2))");
      await sql(target.url, "CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, _zeroloss_lsn pg_lsn)");
      config = writeConfig(source.url, target.url);
    });

    it("exit 0: no errors, only what holds on every server; nothing changed", async () => {
      const r = await check(["--config", config]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("2 tables chosen by source.tables; 1 of them in the target already (the consumer creates the others)\n");
      for (const title of ["Tables and keys", "Types in the target", "Target tables", "Foreign keys and triggers in the target", "Sequences", "Privileges"]) {
        expect(r.stdout).toContain(`\n${title}\n  ok\n`);
      }
      expect(r.stdout).toMatch(/\nno errors, 1 warning: ready \(exit 0\)\n$/);
      const after = await sql(target.url, "SELECT to_regclass('public.payments') IS NULL AS no_table, to_regnamespace('zeroloss') IS NULL AS no_schema");
      expect(after[0]?.rows[0]).toEqual({ no_table: true, no_schema: true });
    });
  });

  describe("roles without their grants", () => {
    const suffix = unique();
    const producerRole = `zl_check_producer_${suffix}`;
    const consumerRole = `zl_check_consumer_${suffix}`;
    const password = `pw-${unique()}${unique()}`;
    let config: string;
    let source: TestDatabase;
    let target: TestDatabase;

    const asRole = (url: string, role: string) => {
      const u = new URL(url);
      u.username = role;
      u.password = password;
      return u.toString();
    };

    beforeAll(async () => {
      source = await createTestDatabase(stack.source, "check_roles_src");
      target = await createTestDatabase(stack.target, "check_roles_tgt");
      await sql(source.url, `CREATE ROLE "${producerRole}" LOGIN PASSWORD '${password}'; CREATE TABLE accounts (id int PRIMARY KEY);`);
      await sql(target.url, `CREATE ROLE "${consumerRole}" LOGIN PASSWORD '${password}'; REVOKE CREATE ON SCHEMA public FROM PUBLIC; CREATE TABLE accounts (id int PRIMARY KEY);`);
      config = writeConfig(asRole(source.url, producerRole), asRole(target.url, consumerRole));
    });

    afterAll(async () => {
      await source?.drop();
      await target?.drop();
      await sql(stack.source, `DROP ROLE IF EXISTS "${producerRole}"`);
      await sql(stack.target, `DROP ROLE IF EXISTS "${consumerRole}"`);
    });

    it("every missing privilege of the producer's and the consumer's role, each with its GRANT", async () => {
      const { code, report } = await checkJson(config);
      expect(code).toBe(1);
      const grants = report.findings.filter((f) => f.area === "privileges").map((f) => [f.object.name, f.fix]);
      expect(grants).toEqual(
        expect.arrayContaining([
          [producerRole, `ALTER ROLE "${producerRole}" REPLICATION; (Amazon RDS and Aurora: GRANT rds_replication TO "${producerRole}";)`],
          [producerRole, `GRANT SELECT ON "public"."accounts" TO "${producerRole}";`],
          [consumerRole, `GRANT SELECT, INSERT, UPDATE, DELETE ON "public"."accounts" TO "${consumerRole}";`],
          [consumerRole, `ALTER TABLE "public"."accounts" OWNER TO "${consumerRole}"; (or GRANT "${new URL(stack.target).username}" TO "${consumerRole}";)`],
        ]),
      );
      expect(JSON.stringify(report)).not.toContain(password);
    });
  });

  it("exit 2 when a database cannot be reached: one line each, with its code", async () => {
    const closed = new URL(stack.target);
    closed.port = "1";
    const r = await check(["--config", writeConfig(closed.toString(), closed.toString())]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n")).toEqual([expect.stringMatching(/^zeroloss: error \[PG_UNREACHABLE\]: zeroloss-check: connecting to PostgreSQL/), expect.stringMatching(/^zeroloss: error \[PG_UNREACHABLE\]/)]);
  });

  it("exit 2 on a configuration it cannot load", async () => {
    const file = join(dir, "invalid.yaml");
    writeFileSync(file, "source: { url: 42 }\n");
    const r = await check(["--config", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^zeroloss: error \[CONFIG_INVALID\]/);
  });
});
