// Group commit: batches of several partitions fetched together share one target
// transaction; when such a transaction fails for a reason a retry cannot cure (here a CHECK
// constraint the operator added to the target), each batch is tried alone, so only the
// partition holding the bad row stops and every other partition's rows are applied.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { pollUntil } from "@zeroloss/devstack";
import { topicNames } from "@zeroloss/wire";
import { pipelineFixture, sourceClient, stoppedPartitions, tableDigest, waitForEqual, type PipelineFixture, type TableSpec } from "./harness.js";

const PLAIN: TableSpec = { name: "public.plain", columns: ["id", "v"], key: ["id"] };
const CHECKED: TableSpec = { name: "public.checked", columns: ["id", "v"], key: ["id"] };
const ROWS = 60; // per table: every one of the 3 partitions gets rows
const BAD_ID = 17;

describe("consumer: several partitions in one target transaction", () => {
  let f: PipelineFixture;
  let src: pg.Client;

  beforeAll(async () => {
    // One record per snapshot row: partitions' batches of one table share transactions only without bulk records.
    f = await pipelineFixture(inject("stack"), "group", { source: { snapshot: { bulk: false } } });
    src = await sourceClient(f);
    for (const t of ["plain", "checked"]) await src.query(`CREATE TABLE ${t} (id int PRIMARY KEY, v int NOT NULL)`);
    await src.query(`INSERT INTO plain SELECT i, i FROM generate_series(1, ${ROWS}) i`);
    await src.query(`INSERT INTO checked SELECT i, CASE WHEN i = ${BAD_ID} THEN 5000 ELSE i END FROM generate_series(1, ${ROWS}) i`);
    await f.target.query(`CREATE TABLE checked (id int PRIMARY KEY, v int NOT NULL CHECK (v < 1000))`);
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
  });

  it("shares transactions, and a failing one stops only the partition at fault", async () => {
    // A backlog first: the consumer's first fetch then holds every partition at once.
    const producer = await f.start();
    const topics = topicNames(f.prefix);
    const records = await pollUntil(
      async () => {
        const r = await f.records(CHECKED.name);
        return r.length === ROWS && (await f.records(PLAIN.name)).length === ROWS ? r : undefined;
      },
      { timeoutMs: 60_000, what: "both tables' rows in Kafka" },
    );
    const badPartition = records.find((r) => r.envelope.after?.["id"] === String(BAD_ID))?.partition;
    expect(badPartition).toBeDefined();
    const inBadPartition = new Set(records.filter((r) => r.partition === badPartition).map((r) => r.envelope.after?.["id"]));
    expect(inBadPartition.size).toBeLessThan(ROWS); // other partitions hold rows too

    const consumer = await f.startConsumer();
    await waitForEqual(f, src, [PLAIN], [producer, consumer]);
    const stopped = await pollUntil(
      async () => {
        const { stopped: s } = await stoppedPartitions(consumer);
        return s.length > 0 ? s : undefined;
      },
      { timeoutMs: 60_000, what: "a stopped partition on /healthz" },
    );
    expect(stopped).toEqual([
      expect.objectContaining({
        topic: topics.data("public", "checked"),
        partition: badPartition,
        code: "PG_QUERY_FAILED",
        message: expect.stringMatching(/"public"\."checked".*check constraint.*SQLSTATE 23514/),
      }),
    ]);

    // Every row of the other partitions is in the target, none of the stopped one's.
    const source = await tableDigest(src, CHECKED.name, CHECKED.columns, CHECKED.key);
    const expected = [...source.keys()].filter((k) => !inBadPartition.has(String((JSON.parse(k) as unknown[])[0])));
    await pollUntil(
      async () => {
        const got = await tableDigest(f.target, CHECKED.name, CHECKED.columns, CHECKED.key);
        return got.size === expected.length && expected.every((k) => got.get(k) === source.get(k)) ? true : undefined;
      },
      { timeoutMs: 30_000, what: `the ${expected.length} rows of ${CHECKED.name} outside partition ${badPartition} in the target` },
    );

    // Batches shared transactions: more partition batches than target transactions.
    const batches = await consumer.metric("zeroloss_consumer_transaction_batches_sum");
    const transactions = await consumer.metric("zeroloss_consumer_transaction_batches_count");
    expect(transactions).toBeGreaterThan(0);
    expect(batches).toBeGreaterThan(transactions ?? Infinity);

    // After the operator fixes the target and restarts the consumer, the partition resumes.
    await f.target.query(`ALTER TABLE checked DROP CONSTRAINT checked_v_check`);
    await consumer.stop();
    const again = await f.startConsumer();
    await waitForEqual(f, src, [PLAIN, CHECKED], [producer, again]);
    await producer.stop();
  });
});
