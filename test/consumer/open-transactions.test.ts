// A source transaction that is still open when the initial snapshot's consistent point is
// reached: it is invisible to the exported snapshot, so its changes must come from the
// stream, and its changes were written to the WAL *before* the consistent point. A target
// guarded by LSN must still take them over the snapshot's older rows (invariant 4: live
// data wins).
//
// The slot reaches its consistent point in three steps (PostgreSQL's snapbuild.c): a
// transaction running when the slot is created (A) must end before the full snapshot, one
// that began after that (B) must end before the consistent point, and a transaction that
// began after the full snapshot (C) may still be running at the consistent point. The test
// drives those steps on a private server, with CHECKPOINT to log the running transactions
// at each step, so nothing else on the server moves them.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import pg from "pg";
import { Instance, pollUntil, runRoot, startPostgres } from "@zeroloss/devstack";
import { testLogger } from "../setup/logger.js";
import { pipelineFixture, sourceClient, waitForEqual, type PipelineFixture, type TableSpec } from "./harness.js";

const TABLES: TableSpec[] = [{ name: "public.acct", columns: ["id", "v"], key: ["id"] }];

describe("initial snapshot with a transaction open across its consistent point", () => {
  let instance: Instance;
  let f: PipelineFixture;
  const sessions: pg.Client[] = [];

  beforeAll(async () => {
    const log = testLogger("open-transactions");
    instance = await Instance.create({ root: runRoot(process.env), detached: false, log });
    const source = await startPostgres(instance, { name: "source-opentx", database: "source", env: process.env, log });
    const stack = inject("stack");
    f = await pipelineFixture({ source: source.url, target: stack.target, kafka: stack.kafka }, "opentx");
    await f.sql.query(`CREATE TABLE acct (id int PRIMARY KEY, v text NOT NULL)`);
    await f.sql.query(`INSERT INTO acct SELECT i, 'initial' FROM generate_series(1, 100) i`);
  });

  afterAll(async () => {
    for (const s of sessions) await s.end();
    await f?.close();
    await instance?.stop();
  });

  async function session(): Promise<pg.Client> {
    const c = await sourceClient(f);
    sessions.push(c);
    return c;
  }

  it("applies the open transaction's changes over the snapshot's rows", async () => {
    const [a, b, c, admin] = [await session(), await session(), await session(), await session()];
    await a.query(`BEGIN; SELECT pg_current_xact_id()`);
    const producer = await f.start();
    const consumer = await f.startConsumer();
    // The slot exists (its first running-transactions record is written) while it waits for A.
    await pollUntil(async () => ((await admin.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND restart_lsn IS NOT NULL`, [f.slot])).rowCount === 1 ? true : undefined), {
      timeoutMs: 30_000,
      what: "the producer to begin creating its slot",
    });
    await b.query(`BEGIN; SELECT pg_current_xact_id()`);
    await a.query(`COMMIT`);
    await admin.query(`CHECKPOINT`); // A ended: the full snapshot (B still runs)
    await c.query(`BEGIN; UPDATE acct SET v = 'from the open transaction' WHERE id <= 10; INSERT INTO acct VALUES (1000, 'inserted while open')`);
    await b.query(`COMMIT`);
    await admin.query(`CHECKPOINT`); // B ended: the consistent point, with C still open
    const health = await pollUntil(async () => ((await producer.health())?.body["status"] === "streaming" ? true : undefined), { timeoutMs: 60_000, what: "the producer to finish its snapshot" });
    expect(health).toBe(true);
    const snapshotRows = (await f.records("public.acct")).filter((r) => r.envelope.op === "r");
    expect(snapshotRows).toHaveLength(100); // C's changes were not in the snapshot
    await c.query(`COMMIT`);
    await waitForEqual(f, f.sql, TABLES, [producer, consumer]);
    const changed = await f.target.query<{ n: string }>(`SELECT count(*) AS n FROM acct WHERE v = 'from the open transaction'`);
    expect(changed.rows[0]?.n).toBe("10");
  });
});
