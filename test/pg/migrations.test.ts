// The migration runner (@zeroloss/pg migrate) on a throwaway schema: steps applied in
// order, one transaction each, recorded in <schema>.migrations; a second run is a no-op; a
// failing step leaves the steps before it applied and nothing of itself; a database with a
// step the code does not know is refused before anything changes; two runners at once apply
// each step once; a role given only a schema made for it (no CREATE on the database) migrates.
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, pollUntil, type TestDatabase } from "@zeroloss/devstack";
import { connect, migrate, quoteIdent, type AppliedStep, type MigrateResult, type Migration } from "@zeroloss/pg";

const stack = inject("stack");
const LOCK = 0x7a6c_7465; // "zlte": this test's own key

/** Steps that leave a trace in `<schema>.trace` of each one applied, so a step applied twice shows. */
function steps(schema: string, count: number): Migration[] {
  const s = quoteIdent(schema);
  return Array.from({ length: count }, (_, i): Migration => ({
    version: i + 1,
    name: `step-${i + 1}`,
    up:
      i === 0
        ? [`CREATE TABLE ${s}.trace (version integer NOT NULL)`, `INSERT INTO ${s}.trace VALUES (1)`]
        : [`ALTER TABLE ${s}.trace ADD COLUMN c${i + 1} integer`, `INSERT INTO ${s}.trace (version) VALUES (${i + 1})`],
  }));
}

describe("migrate", () => {
  let db: TestDatabase;
  let a: pg.Client;
  let b: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase(stack.target, "migrations");
    a = await connect(db.url, { applicationName: "migrations-a" });
    b = await connect(db.url, { applicationName: "migrations-b" });
  });
  afterAll(async () => {
    await a?.end();
    await b?.end();
    await db?.drop();
  });

  const versions = async (schema: string) =>
    (await a.query<{ version: string; name: string }>(`SELECT version, name FROM ${quoteIdent(schema)}.migrations ORDER BY version`)).rows.map((r) => `${r.version} ${r.name}`);
  const trace = async (schema: string) => (await a.query<{ version: string }>(`SELECT version FROM ${quoteIdent(schema)}.trace ORDER BY version`)).rows.map((r) => Number(r.version));

  it("creates the schema and its version table, applies every step in order and logs each; a second run applies nothing", async () => {
    const heard: AppliedStep[] = [];
    const first = await migrate(a, { schema: "Odd \"schema\"", what: "a test schema", lock: LOCK, migrations: steps("Odd \"schema\"", 3), onApplied: (s) => heard.push(s) });
    expect(first).toMatchObject({ from: 0, to: 3, applied: [{ version: 1 }, { version: 2 }, { version: 3 }] });
    expect(heard.map((s) => `${s.schema} ${s.version} ${s.name}`)).toEqual(["Odd \"schema\" 1 step-1", "Odd \"schema\" 2 step-2", "Odd \"schema\" 3 step-3"]);
    expect(await versions("Odd \"schema\"")).toEqual(["1 step-1", "2 step-2", "3 step-3"]);
    expect(await trace("Odd \"schema\"")).toEqual([1, 2, 3]);
    const again = await migrate(a, { schema: "Odd \"schema\"", what: "a test schema", lock: LOCK, migrations: steps("Odd \"schema\"", 3), onApplied: (s) => heard.push(s) });
    expect(again).toEqual({ from: 3, to: 3, applied: [] });
    expect(heard).toHaveLength(3);
    // A later release's step: only it is applied.
    expect(await migrate(a, { schema: "Odd \"schema\"", what: "a test schema", lock: LOCK, migrations: steps("Odd \"schema\"", 4) })).toMatchObject({ from: 3, to: 4, applied: [{ version: 4, name: "step-4" }] });
  });

  it("a failing step rolls back alone: the steps before it stay applied, the error names the step, the next run goes on from there", async () => {
    const broken: Migration[] = [...steps("fails", 2), { version: 3, name: "broken", up: [`INSERT INTO fails.trace (version) VALUES (3)`, `SELECT * FROM fails.no_such_table`] }];
    await expect(migrate(a, { schema: "fails", what: "a test schema", lock: LOCK, migrations: broken })).rejects.toThrow(/applying step 3 \(broken\) to schema fails/);
    expect(await versions("fails")).toEqual(["1 step-1", "2 step-2"]);
    expect(await trace("fails")).toEqual([1, 2]);
    expect(await migrate(a, { schema: "fails", what: "a test schema", lock: LOCK, migrations: steps("fails", 3) })).toMatchObject({ from: 2, applied: [{ version: 3 }] });
  });

  it("refuses a database with a step the code does not know, naming the schema and both versions, and changes nothing", async () => {
    await migrate(a, { schema: "newer", what: "a test schema", lock: LOCK, migrations: steps("newer", 3) });
    const older = steps("newer", 2);
    const refusal = migrate(a, { schema: "newer", what: "a test schema", lock: LOCK, migrations: older });
    await expect(refusal).rejects.toMatchObject({
      code: "SCHEMA_NEWER_THAN_CODE",
      retriable: false,
      details: { schema: "newer", databaseVersion: 3, codeVersion: 2, unknown: [{ version: 3, name: "step-3" }] },
    });
    await expect(refusal).rejects.toThrow(/^schema newer \(a test schema\) is at version 3, newer than this zeroloss knows \(version 2\): step\(s\) 3 \(step-3\) came from a newer release/);
    expect(await versions("newer")).toEqual(["1 step-1", "2 step-2", "3 step-3"]);
    // The same version under another name: another build's step.
    const renamed = steps("newer", 3).map((m) => (m.version === 2 ? { ...m, name: "other" } : m));
    await expect(migrate(a, { schema: "newer", what: "a test schema", lock: LOCK, migrations: renamed })).rejects.toMatchObject({
      code: "SCHEMA_MIGRATION_MISMATCH",
      details: { schema: "newer", version: 2, databaseName: "step-2", codeName: "other" },
    });
    // A list that does not count 1, 2, 3…: refused before the database is touched.
    await expect(migrate(a, { schema: "untouched", what: "a test schema", lock: LOCK, migrations: [steps("untouched", 2)[1] as Migration] })).rejects.toMatchObject({ code: "MIGRATIONS_INVALID" });
    expect((await a.query("SELECT 1 FROM pg_namespace WHERE nspname = 'untouched'")).rowCount).toBe(0);
  });

  it("two runners at once, on two connections: both succeed and every step is applied once", async () => {
    const list = steps("race", 3);
    // Both runners are made to wait on the lock together (held here first), so they do run at once.
    const holder = await connect(db.url, { applicationName: "migrations-holder" });
    let both: Promise<[MigrateResult, MigrateResult]>;
    try {
      await holder.query("SELECT pg_advisory_lock($1)", [LOCK]);
      both = Promise.all([
        migrate(a, { schema: "race", what: "a test schema", lock: LOCK, migrations: list }),
        migrate(b, { schema: "race", what: "a test schema", lock: LOCK, migrations: list }),
      ]);
      both.catch(() => undefined); // awaited below
      await pollUntil(
        async () => {
          const r = await holder.query<{ n: string }>("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1", [LOCK]);
          return r.rows[0]?.n === "2" ? true : undefined;
        },
        { timeoutMs: 10_000, what: "both runners waiting on the migration lock" },
      );
      await holder.query("SELECT pg_advisory_unlock($1)", [LOCK]);
    } finally {
      await holder.end();
    }
    const [x, y] = await both;
    expect([...x.applied, ...y.applied].map((s) => s.version).sort()).toEqual([1, 2, 3]);
    expect(await versions("race")).toEqual(["1 step-1", "2 step-2", "3 step-3"]);
    expect(await trace("race")).toEqual([1, 2, 3]);
  });

  it("a role without CREATE on the database migrates a schema made for it (CREATE SCHEMA IF NOT EXISTS would be refused)", async () => {
    const role = `zl_migrations_${db.name.slice(-8)}`;
    await a.query(`CREATE ROLE ${quoteIdent(role)} NOLOGIN`);
    try {
      await a.query(`REVOKE CREATE ON DATABASE ${quoteIdent(db.name)} FROM PUBLIC`);
      await a.query(`CREATE SCHEMA granted AUTHORIZATION ${quoteIdent(role)}`);
      await b.query(`SET ROLE ${quoteIdent(role)}`);
      await expect(b.query("CREATE SCHEMA IF NOT EXISTS granted")).rejects.toThrow(/permission denied for database/);
      expect(await migrate(b, { schema: "granted", what: "a test schema", lock: LOCK, migrations: steps("granted", 2) })).toMatchObject({ from: 0, to: 2 });
      expect(await versions("granted")).toEqual(["1 step-1", "2 step-2"]);
    } finally {
      await b.query("RESET ROLE");
      await a.query(`DROP SCHEMA granted CASCADE`);
      await a.query(`DROP ROLE ${quoteIdent(role)}`);
    }
  });
});
