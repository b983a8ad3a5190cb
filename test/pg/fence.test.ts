// The write fence of `zeroloss cutover`, against a real PostgreSQL: fenceRoles makes an
// application role's new sessions refuse writes (SQLSTATE 25006) and ends its open ones;
// unfenceRoles puts back exactly the database-specific setting each role had (a value, or
// none) and may run twice; the refusals (own role, unknown role, no role, missing privilege)
// change nothing. waitForWritesToStop returns only once an open write transaction has
// committed, with a fence LSN at or past its commit, and times out naming the writer.
import { randomBytes } from "node:crypto";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, pollUntil, urlAsRole, type TestDatabase } from "@zeroloss/devstack";
import { ZerolossError } from "@zeroloss/errors";
import {
  connect,
  fenceRoles,
  parseLsn,
  quoteIdent,
  readRoleFenceState,
  readTableWrites,
  unfenceRoles,
  waitForWritesToStop,
  type WriteQuietProgress,
} from "@zeroloss/pg";

const stack = inject("stack");

/** The rejection of `work`, which must reject. */
async function failure(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

describe("the write fence", () => {
  const suffix = randomBytes(4).toString("hex");
  const app = `zl_fence_app_${suffix}`;
  const kept = `zl_fence_Kept_${suffix}`; // mixed case: quoting is exercised
  const operator = `zl_fence_op_${suffix}`;
  const password = `pw-${randomBytes(8).toString("hex")}`;
  const items = { schema: "public", name: "items" };
  let db: TestDatabase;
  let admin: pg.Client;
  let watcher: pg.Client;
  let self: string;
  const clients: pg.Client[] = [];

  /** A session tracked for the teardown; a terminated one is simply ended again. */
  const session = async (url: string, applicationName: string): Promise<pg.Client> => {
    const c = await connect(url, { applicationName });
    clients.push(c);
    return c;
  };
  const asApp = (role: string, name: string) => session(urlAsRole(db.url, role, password), name);
  const pidOf = async (c: pg.Client) => Number((await c.query<{ pid: string }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid);
  const gone = (pid: number, what: string) =>
    pollUntil(
      async () => ((await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid])).rows.length === 0 ? true : undefined),
      { timeoutMs: 10_000, what },
    );
  /**
   * Runs `sql` in a session of its own, which then disconnects: a session flushes its table
   * statistics when it ends, while an idle one that flushed within the last second (its own
   * connection start counts) holds them for PostgreSQL's 10 s stats interval.
   */
  const writeAndLeave = async (applicationName: string, sql: string): Promise<void> => {
    const c = await connect(db.url, { applicationName });
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  /** Each role's database-specific setconfig in the test database, straight from the catalog. */
  const dbRoleSettings = async (): Promise<Record<string, string[] | null>> => {
    const rows = await admin.query<{ role: string; setconfig: string | null }>(
      `SELECT r.rolname AS role, s.setconfig::text AS setconfig
         FROM pg_roles r LEFT JOIN pg_db_role_setting s ON s.setrole = r.oid AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
        WHERE r.rolname = ANY($1) ORDER BY r.rolname`,
      [[app, kept, operator]],
    );
    return Object.fromEntries(rows.rows.map((r) => [r.role, r.setconfig === null ? null : r.setconfig.replace(/^\{|\}$/g, "").split(",")]));
  };

  beforeAll(async () => {
    db = await createTestDatabase(stack.source, "fence");
    admin = await connect(db.url, { applicationName: "zeroloss-test-fence" });
    watcher = await connect(db.url, { applicationName: "zeroloss-test-fence-watch" });
    self = (await admin.query<{ u: string }>("SELECT current_user AS u")).rows[0]?.u ?? "";
    for (const role of [app, kept, operator]) await admin.query(`CREATE ROLE ${quoteIdent(role)} LOGIN PASSWORD '${password}'`);
    await admin.query("CREATE TABLE items (id bigserial PRIMARY KEY, v text)");
    await admin.query(`GRANT SELECT, INSERT ON items TO ${quoteIdent(app)}, ${quoteIdent(kept)}`);
    await admin.query(`GRANT USAGE ON SEQUENCE items_id_seq TO ${quoteIdent(app)}, ${quoteIdent(kept)}`);
    // kept has a database-specific setting of its own before the fence: it must get exactly it back.
    await admin.query(`ALTER ROLE ${quoteIdent(kept)} IN DATABASE ${quoteIdent(db.name)} SET default_transaction_read_only = off`);
  });

  afterAll(async () => {
    for (const c of [...clients, watcher, admin]) await c?.end().catch(() => undefined);
    await db?.drop();
    const c = await connect(stack.source, { applicationName: "zeroloss-test-fence-cleanup" });
    for (const role of [app, kept, operator]) await c.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
    await c.end();
  });

  it("fences: new sessions refuse writes, open ones are terminated; unfencing restores each role's own setting exactly, twice over", async () => {
    const open = await asApp(app, "app-open");
    await open.query("INSERT INTO items (v) VALUES ('before the fence')");
    const openPid = await pidOf(open);

    const fenced = await fenceRoles(admin, [app, kept]);
    expect(fenced).toEqual([
      { role: app, previous: null, terminated: 1 },
      { role: kept, previous: "off", terminated: 0 },
    ]);
    await gone(openPid, "the open session of the fenced role to end");
    await expect(open.query("SELECT 1")).rejects.toThrow();
    expect(await dbRoleSettings()).toMatchObject({ [app]: ["default_transaction_read_only=on"], [kept]: ["default_transaction_read_only=on"] });
    expect(await readRoleFenceState(admin, [app, kept])).toEqual([
      { role: app, previous: "on" },
      { role: kept, previous: "on" },
    ]);

    const fresh = await asApp(app, "app-fresh");
    expect(await failure(fresh.query("INSERT INTO items (v) VALUES ('after the fence')"))).toMatchObject({ code: "25006" });
    const freshKept = await asApp(kept, "kept-fresh");
    expect(await failure(freshKept.query("INSERT INTO items (v) VALUES ('after the fence')"))).toMatchObject({ code: "25006" });
    const freshPids = [await pidOf(fresh), await pidOf(freshKept)];

    const lifted = await unfenceRoles(admin, fenced);
    expect(lifted).toEqual([
      { role: app, restored: null, terminated: 1 },
      { role: kept, restored: "off", terminated: 1 },
    ]);
    for (const pid of freshPids) await gone(pid, "the read-only sessions to end when the fence is lifted");
    // The catalog itself: app has no setting for this database again, kept its own `off`.
    expect(await dbRoleSettings()).toEqual({ [app]: null, [kept]: ["default_transaction_read_only=off"], [operator]: null });

    // Twice is the same as once.
    expect(await unfenceRoles(admin, fenced)).toEqual([
      { role: app, restored: null, terminated: 0 },
      { role: kept, restored: "off", terminated: 0 },
    ]);
    expect(await dbRoleSettings()).toEqual({ [app]: null, [kept]: ["default_transaction_read_only=off"], [operator]: null });

    for (const role of [app, kept]) {
      const again = await asApp(role, "app-again");
      await again.query("INSERT INTO items (v) VALUES ('after the fence was lifted')");
    }
  });

  it("refuses an empty list, an unknown role and the connection's own role, changing nothing", async () => {
    const open = await asApp(app, "app-bystander");
    const openPid = await pidOf(open);
    const before = await dbRoleSettings();

    const empty = await failure(fenceRoles(admin, []));
    expect(empty).toBeInstanceOf(ZerolossError);
    expect(empty).toMatchObject({ code: "FENCE_NO_ROLES" });

    const unknown = `zl_fence_nobody_${suffix}`;
    const e1 = await failure(fenceRoles(admin, [app, unknown]));
    expect(e1).toMatchObject({ code: "FENCE_ROLE_UNKNOWN" });
    expect((e1 as Error).message).toContain(unknown);

    const e2 = await failure(fenceRoles(admin, [app, self]));
    expect(e2).toMatchObject({ code: "FENCE_ROLE_SELF" });
    expect((e2 as Error).message).toContain(self);
    expect((e2 as Error).message).toMatch(/keep writing/);

    expect(await dbRoleSettings()).toEqual(before);
    // The application's open session was not touched: it still writes.
    await open.query("INSERT INTO items (v) VALUES ('still writable')");
    expect(await pidOf(open)).toBe(openPid);
  });

  it("a role without the privileges is refused with the privilege it needs, changing nothing", async () => {
    const op = await session(urlAsRole(db.url, operator, password), "zeroloss-test-operator");
    const before = await dbRoleSettings();

    const noSignal = await failure(fenceRoles(op, [app]));
    expect(noSignal).toMatchObject({ code: "FENCE_PRIVILEGE" });
    expect((noSignal as Error).message).toContain("pg_signal_backend");

    await admin.query(`GRANT pg_signal_backend TO ${quoteIdent(operator)}`);
    try {
      const noCreateRole = await failure(fenceRoles(op, [app]));
      expect(noCreateRole).toMatchObject({ code: "FENCE_PRIVILEGE" });
      expect((noCreateRole as Error).message).toContain("CREATEROLE");
    } finally {
      await admin.query(`REVOKE pg_signal_backend FROM ${quoteIdent(operator)}`);
    }
    expect(await dbRoleSettings()).toEqual(before);
  });

  it("waitForWritesToStop returns only after an open write transaction commits, with a fence LSN at or past the commit", async () => {
    const writer = await session(db.url, "app-writer");
    const writerPid = await pidOf(writer);
    await writer.query("BEGIN");
    await writer.query("INSERT INTO items (v) VALUES ('in an open transaction')");

    const reports: WriteQuietProgress[] = [];
    let returned = false;
    const wait = waitForWritesToStop(watcher, { tables: [items], quietMs: 1500, intervalMs: 100, timeoutMs: 60_000, onProgress: (p) => reports.push(p) });
    void wait.then(() => (returned = true), () => undefined);

    await pollUntil(async () => (reports.some((r) => r.writers.some((w) => w.pid === writerPid)) ? true : undefined), {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: "a progress report naming the open writer",
    });
    const seen = reports.find((r) => r.writers.some((w) => w.pid === writerPid));
    expect(seen?.quietForMs).toBe(0);
    expect(seen?.writers.find((w) => w.pid === writerPid)).toMatchObject({ applicationName: "app-writer", usename: self, preparedGid: null });
    expect(returned).toBe(false);

    await writer.query("COMMIT");
    const afterCommit = (await writer.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn")).rows[0]?.lsn ?? "";
    const fence = await wait;
    expect(parseLsn(fence.lsn)).toBeGreaterThanOrEqual(parseLsn(afterCommit));
    expect(fence.at).toBeInstanceOf(Date);
    expect(fence.tableWrites["public.items"]).toMatch(/^[0-9]+$/);
    expect(reports.at(-1)?.writers).toEqual([]);
    expect(reports.at(-1)?.quietForMs).toBeGreaterThanOrEqual(1500);
    // Ending the session flushes its statistics now, not in the next test's quiet period.
    await writer.end();
  });

  it("waitForWritesToStop sees a short transaction committed between two polls through the table's write counter", async () => {
    const reports: WriteQuietProgress[] = [];
    const wait = waitForWritesToStop(watcher, { tables: [items], quietMs: 5000, intervalMs: 100, timeoutMs: 60_000, onProgress: (p) => reports.push(p) });
    await pollUntil(async () => (reports.some((r) => r.quietForMs > 0) ? true : undefined), { timeoutMs: 10_000, intervalMs: 50, what: "the wait to start a quiet period" });
    await writeAndLeave("app-short", "INSERT INTO items (v) VALUES ('short')");
    await pollUntil(async () => (reports.some((r) => r.movedTables.includes("public.items")) ? true : undefined), {
      timeoutMs: 20_000,
      intervalMs: 50,
      what: "a progress report naming public.items as moved",
    });
    const movedAt = reports.findIndex((r) => r.movedTables.includes("public.items"));
    expect(reports[movedAt]?.quietForMs).toBe(0);
    await wait;
    expect(reports.at(-1)?.quietForMs).toBeGreaterThanOrEqual(5000);
  });

  it("waitForWritesToStop times out naming a writer that never commits, ignores zeroloss's own sessions, and stops when asked", async () => {
    const writer = await session(db.url, "app-stuck");
    const writerPid = await pidOf(writer);
    await writer.query("BEGIN");
    await writer.query("INSERT INTO items (v) VALUES ('never committed')");
    try {
      const err = await failure(waitForWritesToStop(watcher, { tables: [items], quietMs: 500, intervalMs: 100, timeoutMs: 1500 }));
      expect(err).toMatchObject({ code: "FENCE_WRITES_CONTINUE" });
      expect((err as Error).message).toContain(`pid ${writerPid}`);
      expect((err as Error).message).toContain("app-stuck");
      expect((err as ZerolossError).details["writers"]).toEqual([expect.objectContaining({ pid: writerPid, usename: self })]);
    } finally {
      await writer.query("ROLLBACK");
    }

    // A session of zeroloss's own (the producer writing its watermarks) is no writer to wait for.
    const own = await session(db.url, "zeroloss-producer-test");
    await own.query("BEGIN");
    await own.query("INSERT INTO items (v) VALUES ('a watermark, say')");
    try {
      const fence = await waitForWritesToStop(watcher, { tables: [], quietMs: 300, intervalMs: 100, timeoutMs: 30_000 });
      expect(fence.tableWrites).toEqual({});
    } finally {
      await own.query("ROLLBACK");
    }

    expect(await failure(waitForWritesToStop(watcher, { tables: [items], timeoutMs: 30_000, stopped: () => true }))).toMatchObject({ code: "FENCE_WAIT_STOPPED" });
  });

  it("readTableWrites counts a partitioned table's writes through its partitions, and refuses a table that does not exist", async () => {
    await admin.query("CREATE TABLE parted (k int, v text) PARTITION BY RANGE (k)");
    await admin.query("CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (0) TO (100)");
    await admin.query("CREATE TABLE parted_high PARTITION OF parted FOR VALUES FROM (100) TO (200)");
    await writeAndLeave("app-parted", "INSERT INTO parted VALUES (1, 'a'), (150, 'b'); UPDATE parted SET v = 'c' WHERE k = 150");
    await pollUntil(async () => ((await readTableWrites(watcher, [{ schema: "public", name: "parted" }]))["public.parted"] === "3" ? true : undefined), {
      timeoutMs: 15_000,
      what: "the partitioned table's counter to show 2 inserts and 1 update",
    });
    expect(await failure(readTableWrites(watcher, [{ schema: "public", name: "no_such_table" }]))).toMatchObject({ code: "TABLE_NOT_FOUND" });
  });
});
