// Fetch-ahead: while a partition's batch is in the target, the consumer has already fetched
// that partition's next batch, so the database does not idle during fetches. A failpoint
// holds the first target transaction open; meanwhile the next batches must be fetched and
// waiting (zeroloss_consumer_batches_ahead), and once it lets go everything is applied in
// order: the target equals the source.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { pollUntil } from "@zeroloss/devstack";
import { pipelineFixture, sourceClient, waitForEqual, type PipelineFixture, type TableSpec } from "./harness.js";

const ITEMS: TableSpec = { name: "public.items", columns: ["id", "v"], key: ["id"] };
const ROWS = 4_000;

describe("consumer: fetch-ahead", () => {
  let f: PipelineFixture;
  let src: pg.Client;

  beforeAll(async () => {
    // Single-row records in Kafka record batches of 500 rows' worth (the snapshot's chunks), and
    // fetches of 64 KiB a partition: every partition takes several batches.
    f = await pipelineFixture(inject("stack"), "ahead", { source: { snapshot: { bulk: false, chunkSize: 500 } }, consumer: { maxBatchBytes: 64 * 1024 } });
    src = await sourceClient(f);
    await src.query(`CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL)`);
    await src.query(`INSERT INTO items SELECT i, repeat('v', 100) || i FROM generate_series(1, ${ROWS}) i`);
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
  });

  it("fetches a partition's next batch while the target holds its current one, and applies them in order", async () => {
    const producer = await f.start();
    await pollUntil(async () => ((await f.records(ITEMS.name)).length === ROWS ? true : undefined), { timeoutMs: 60_000, what: "the rows in Kafka" });
    const consumer = await f.startConsumer({ ZEROLOSS_FAILPOINTS: "consumer.before-target-commit=stall:8000" });
    await pollUntil(async () => ((await consumer.metric("zeroloss_consumer_batches_ahead")) ?? 0) >= 1 || undefined, {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: "a batch fetched while the first target transaction is held open",
      abortIf: () => {
        if (consumer.proc.exitCode !== null) throw new Error(`the consumer exited:\n${consumer.output().slice(-3000)}`);
      },
    }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${consumer.output().slice(-8000)}`);
    });
    // The held partition's later batches wait for it: not every row is in the target yet.
    const applied = async () => ((await f.target.query(`SELECT 1 FROM pg_tables WHERE tablename = 'items'`)).rowCount === 0 ? 0 : Number((await f.target.query<{ n: string }>(`SELECT count(*) AS n FROM items`)).rows[0]?.n));
    expect(await applied()).toBeLessThan(ROWS);
    await waitForEqual(f, src, [ITEMS], [producer, consumer]);
    expect(await consumer.metric("zeroloss_consumer_batches_ahead")).toBe(0);
    const q = await f.target.query<{ n: string }>(`SELECT count(*) AS n FROM zeroloss.quarantine`);
    expect(q.rows[0]?.n).toBe("0");
    expect(await consumer.stop()).toBe(0);
    expect(await producer.stop()).toBe(0);
  }, 120_000);
});
