// inTransaction, the one transaction helper: work commits as a whole, a failure rolls all
// of it back and surfaces the error that caused it (not a ROLLBACK's), and the advisory
// lock option serialises two transactions that share a key; quoteLiteral is safe under either
// standard_conforming_strings.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, pollUntil, type TestDatabase } from "@zeroloss/devstack";
import { connect, inTransaction, query, quoteIdent, quoteLiteral } from "@zeroloss/pg";

const stack = inject("stack");

describe("inTransaction", () => {
  let db: TestDatabase;
  let a: pg.Client;
  let b: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase(stack.target, "tx");
    a = await connect(db.url, { applicationName: "tx-a" });
    b = await connect(db.url, { applicationName: "tx-b" });
    await a.query(`CREATE TABLE ${quoteIdent("Odd \"name\"")} (v text)`);
  });
  afterAll(async () => {
    await a?.end();
    await b?.end();
    await db?.drop();
  });

  const rows = async () => (await a.query<{ v: string }>(`SELECT v FROM ${quoteIdent("Odd \"name\"")} ORDER BY v`)).rows.map((r) => r.v);

  it("commits the work and returns its result; quoting round-trips awkward names and values", async () => {
    const out = await inTransaction(a, "a test insert", async () => {
      await query(a, "inserting", `INSERT INTO ${quoteIdent("Odd \"name\"")} VALUES (${quoteLiteral("it's \\ fine")})`);
      return 7;
    });
    expect(out).toBe(7);
    expect(await rows()).toEqual(["it's \\ fine"]);
  });

  it("rolls everything back on failure and throws the work's error, naming the transaction's step", async () => {
    const failure = new Error("the work failed");
    await expect(
      inTransaction(a, "a failing insert", async () => {
        await query(a, "inserting", `INSERT INTO ${quoteIdent("Odd \"name\"")} VALUES ('lost')`);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await rows()).toEqual(["it's \\ fine"]);
    // The session is usable again: not left inside an aborted transaction.
    expect((await a.query<{ s: string }>("SELECT 'ok' AS s")).rows[0]?.s).toBe("ok");
    // A failing statement's error names the step it was in.
    await expect(inTransaction(a, "a bad statement", () => query(a, "selecting from nowhere", "SELECT * FROM no_such_table"))).rejects.toThrow(/selecting from nowhere/);
  });

  it("quoteLiteral reads back the same text whether standard_conforming_strings is on or off", async () => {
    const awkward = ["plain", "it's", "C:\\temp\\", "\\'; SELECT 1; --", "back\\slash 'and' quote"];
    for (const setting of ["on", "off"]) {
      await a.query(`SET standard_conforming_strings = ${setting}`);
      for (const v of awkward) {
        const r = await a.query<{ v: string }>(`SELECT ${quoteLiteral(v)} AS v`);
        expect(r.rows[0]?.v, `${JSON.stringify(v)} with standard_conforming_strings ${setting}`).toBe(v);
      }
    }
    await a.query("RESET standard_conforming_strings");
  });

  it("with advisoryLock, a second transaction on the same key waits for the first to end", async () => {
    const key = 4242;
    let releaseFirst = () => {};
    const firstHolds = new Promise<void>((r) => (releaseFirst = r));
    let firstIn = () => {};
    const firstEntered = new Promise<void>((r) => (firstIn = r));
    const order: string[] = [];
    const first = inTransaction(a, "the first", async () => {
      firstIn();
      await firstHolds;
      order.push("first done");
    }, { advisoryLock: key });
    await firstEntered;
    const second = inTransaction(b, "the second", async () => {
      order.push("second in");
    }, { advisoryLock: key });
    // The second waits on the lock: seen waiting in pg_locks, then the first is let go.
    await pollUntil(
      async () => {
        const waiting = await a.query<{ n: string }>("SELECT count(*)::text AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1", [key]);
        return waiting.rows[0]?.n === "1" ? true : undefined;
      },
      { timeoutMs: 10_000, what: "the second transaction to wait on the advisory lock" },
    );
    releaseFirst();
    await Promise.all([first, second]);
    expect(order).toEqual(["first done", "second in"]);
  });
});
