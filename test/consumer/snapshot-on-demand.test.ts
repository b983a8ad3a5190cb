// `zeroloss snapshot --table`: two tables snapshotted again while the producer streams, at
// once (each on a snapshot worker's connection). The target's copies are damaged by hand
// (rows deleted, values altered), another table keeps taking writes, and the re-snapshots
// must repair them without holding up the other: all end equal to the source, checksum for
// checksum. A table the producer does not stream is refused, naming it, and nothing is
// requested.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { pollUntil } from "@zeroloss/devstack";
import { pipelineFixture, sourceClient, waitForEqual, type PipelineFixture, type TableSpec } from "./harness.js";

const CLI = resolve(import.meta.dirname, "../../packages/cli/bin/zeroloss.js");
const A: TableSpec = { name: "public.accounts", columns: ["id", "owner", "balance"], key: ["id"] };
const B: TableSpec = { name: "public.events", columns: ["id", "kind"], key: ["id"] };
const C: TableSpec = { name: "public.notes", columns: ["id", "body"], key: ["id"] };

function cli(f: PipelineFixture, ...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args, "--config", f.configFile], { encoding: "utf8", timeout: 60_000, env: { ...process.env, ZEROLOSS_LOG_LEVEL: "warn" } });
}

describe("zeroloss snapshot --table", () => {
  let f: PipelineFixture;
  let src: pg.Client;

  beforeAll(async () => {
    f = await pipelineFixture(inject("stack"), "ondemand", { source: { snapshot: { chunkSize: 500 } } });
    src = await sourceClient(f);
    await src.query(`CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric(12,2))`);
    await src.query(`CREATE TABLE events (id bigint PRIMARY KEY, kind text)`);
    await src.query(`INSERT INTO accounts SELECT i, 'owner ' || i, i * 1.5 FROM generate_series(1, 3000) i`);
    await src.query(`INSERT INTO events SELECT i, 'k' || (i % 7) FROM generate_series(1, 200) i`);
    await src.query(`CREATE TABLE notes (id int PRIMARY KEY, body text)`);
    await src.query(`INSERT INTO notes SELECT i, repeat('n', i % 50) FROM generate_series(1, 2000) i`);
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
  });

  it("re-loads two tables at once while another streams, repairing what was damaged by hand", async () => {
    const producer = await f.start();
    const consumer = await f.startConsumer();
    await waitForEqual(f, src, [A, B, C], [producer, consumer]);

    // Damage behind zeroloss's back: the target lost rows and holds altered values.
    await f.target.query(`DELETE FROM accounts WHERE id % 10 = 0`);
    await f.target.query(`UPDATE accounts SET balance = -1 WHERE id % 10 = 5`);
    const damaged = await f.target.query<{ n: string }>(`SELECT count(*) AS n FROM accounts`);
    expect(damaged.rows[0]?.n).toBe("2700");
    await f.target.query(`DELETE FROM notes WHERE id > 1500`);

    // The other table streams all along; accounts changes during its snapshot too.
    const writer = (async () => {
      for (let i = 1; i <= 400; i++) {
        await src.query(`INSERT INTO events VALUES ($1, 'late')`, [1000 + i]);
        await src.query(`UPDATE accounts SET balance = balance + 1 WHERE id = $1`, [((i * 37) % 3000) + 1]);
      }
    })();
    const requested = cli(f, "snapshot", "--table", "public.accounts", "--table", "public.notes");
    expect(requested.status, requested.stderr).toBe(0);
    expect(requested.stdout).toContain("requested a snapshot of public.accounts");
    expect(requested.stdout).toContain("public.notes");
    await writer;
    // Only the snapshots bring the deleted rows back and the altered values right.
    await waitForEqual(f, src, [A, B, C], [producer, consumer], 120_000);
    // Two tables requested, two snapshot workers (source.snapshot.workers is at least 2): each
    // opened a connection of its own beside the live snapshot's first one.
    const sessions = await src.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'zeroloss-producer-live-snapshot' AND datname = current_database()`,
    );
    expect(Number(sessions.rows[0]?.n)).toBe(3);
    // The rows read again by the requested snapshot, in bulk records (which may begin and end
    // inside one Kafka transaction, so no checkpoint need list the table as live): all but
    // those the 400 updates overtook (a row changed by a transaction the read did not see).
    const reads = (await f.records(A.name)).filter((r) => r.envelope.op === "r");
    expect(reads.length).toBeGreaterThanOrEqual(6000 - 400);
    expect(reads.length).toBeLessThanOrEqual(6000);
    expect(new Set(reads.map((r) => r.key)).size).toBe(3000);
    const bulk = (await f.recordsRaw(A.name)).filter((r) => r.envelope.rows !== undefined);
    expect(bulk.reduce((n, r) => n + (r.envelope.rows?.count ?? 0), 0)).toBeGreaterThanOrEqual(6000 - 400); // both snapshots in bulk
    expect(bulk.length).toBeLessThan(100);
    // The request is done: the streamer's checkpoint no longer lists the table as live.
    await pollUntil(async () => (((await f.checkpoints()).at(-1)?.live ?? []).length === 0 ? true : undefined), { timeoutMs: 30_000, what: "no table live in the checkpoint" });
    expect(await consumer.stop()).toBe(0);
    expect(await producer.stop()).toBe(0);
  }, 180_000);

  it("refuses a table the producer does not stream, naming it, and requests nothing", async () => {
    const refused = cli(f, "snapshot", "--table", "public.nope", "--table", "public.accounts");
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain("nothing requested");
    expect(refused.stderr).toContain("public.nope does not exist or does not match source.tables");
    expect(refused.stderr).not.toContain("public.accounts");
    const missing = cli(f, "snapshot");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("--table");
  });
});
