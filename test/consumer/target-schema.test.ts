// Target tables that exist but do not fit the source: a missing column, a column of another
// type, another primary key. Each stops only the partitions that carry that table, with an
// error naming table and column; /healthz turns 503 "partition-stopped"; the stopped
// partitions keep their lag; other tables keep flowing, and latency is observed for them.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { pollUntil } from "@zeroloss/devstack";
import { topicNames } from "@zeroloss/wire";
import { pipelineFixture, sourceClient, stoppedPartitions, waitForEqual, type PipelineFixture, type TableSpec } from "./harness.js";

const OK: TableSpec = { name: "public.ok_t", columns: ["id", "b"], key: ["id"] };
const ROWS = 30; // per table: enough to reach each of the 3 partitions

describe("consumer: target tables that do not fit", () => {
  let f: PipelineFixture;
  let src: pg.Client;

  beforeAll(async () => {
    // stop: a target table that lacks a column is a misfit here, not a change to apply (test/consumer/schema-changes.test.ts).
    // One record per snapshot row: the stopped partitions' lag is checked in records (source.snapshot.bulk).
    f = await pipelineFixture(inject("stack"), "schema", { source: { snapshot: { bulk: false } }, target: { schemaChanges: "stop" } });
    src = await sourceClient(f);
    for (const t of ["ok_t", "wrong_type", "wrong_key"]) await src.query(`CREATE TABLE ${t} (id int PRIMARY KEY, b int)`);
    await src.query(`CREATE TABLE missing_col (id int PRIMARY KEY, a text, b int)`);
    for (const t of ["ok_t", "wrong_type", "wrong_key"]) await src.query(`INSERT INTO ${t} SELECT i, i * 2 FROM generate_series(1, ${ROWS}) i`);
    await src.query(`INSERT INTO missing_col SELECT i, 'a' || i, i FROM generate_series(1, ${ROWS}) i`);
    await f.target.query(`CREATE TABLE missing_col (id int PRIMARY KEY, a text)`);
    await f.target.query(`CREATE TABLE wrong_type (id int PRIMARY KEY, b text)`);
    await f.target.query(`CREATE TABLE wrong_key (id int NOT NULL, b int PRIMARY KEY)`);
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
  });

  it("stops the partitions of each misfit table with a named error; the rest flows", async () => {
    const producer = await f.start();
    const consumer = await f.startConsumer();
    await waitForEqual(f, src, [OK], [producer, consumer]);

    const expected: Record<string, { code: string; says: RegExp }> = {
      missing_col: { code: "TARGET_COLUMN_MISSING", says: /target table public\.missing_col has no column b \(source type integer\)/ },
      wrong_type: { code: "TARGET_COLUMN_TYPE", says: /target table public\.wrong_type: column b is text in the target but integer in the source/ },
      wrong_key: { code: "TARGET_KEY_MISMATCH", says: /target table public\.wrong_key: its primary key is \(b\) but the source's is \(id\); column id differs/ },
    };
    const topics = topicNames(f.prefix);
    const topicOf = (t: string) => topics.data("public", t);
    // Every partition that holds records of a misfit table stops: read once the snapshot is
    // whole in Kafka (its workers read the tables at once, not one after the other).
    await pollUntil(async () => ((await f.checkpoints()).at(-1)?.phase === "streaming" ? true : undefined), { timeoutMs: 60_000, what: "the snapshot to complete" });
    const partitionsWithRecords = new Set<string>();
    for (const t of Object.keys(expected)) for (const r of await f.records(`public.${t}`)) partitionsWithRecords.add(`${topicOf(t)}:${r.partition}`);
    const health = await pollUntil(
      async () => {
        const { health: h, stopped } = await stoppedPartitions(consumer);
        return stopped.length === partitionsWithRecords.size ? { h, stopped } : undefined;
      },
      { timeoutMs: 60_000, what: `${partitionsWithRecords.size} stopped partitions on /healthz` },
    );
    expect(health.h?.status).toBe(503);
    expect(health.h?.body["status"]).toBe("partition-stopped");
    expect(health.h?.body["healthy"]).toBe(false);
    for (const s of health.stopped) {
      const table = Object.keys(expected).find((t) => topicOf(t) === s.topic);
      expect(table, `stopped partition of an unexpected topic ${s.topic}`).toBeDefined();
      const want = expected[table as string] as { code: string; says: RegExp };
      expect(s.code).toBe(want.code);
      expect(s.message).toMatch(want.says);
      expect(partitionsWithRecords.has(`${s.topic}:${s.partition}`)).toBe(true);
    }
    expect(await consumer.metric("zeroloss_consumer_stopped_partitions")).toBe(partitionsWithRecords.size);
    for (const { code } of Object.values(expected)) expect(await consumer.metric("zeroloss_consumer_errors_total", { code })).toBeGreaterThan(0);

    // Nothing reached the misfit tables; their partitions keep their lag, the good table's is 0.
    for (const t of Object.keys(expected)) expect((await f.target.query(`SELECT count(*) AS n FROM ${t}`)).rows[0]).toEqual({ n: "0" }); // the target connection returns text
    await pollUntil(
      async () => {
        for (const s of health.stopped) {
          if (((await consumer.metric("zeroloss_consumer_lag_offsets", { topic: s.topic, partition: String(s.partition) })) ?? 0) <= 0) return undefined;
        }
        return (await consumer.metric("zeroloss_consumer_lag_offsets", { topic: topicOf("ok_t") })) === 0 ? true : undefined;
      },
      { timeoutMs: 30_000, what: "lag above 0 on every stopped partition and 0 on the good table's" },
    );
    // Source commit → target commit latency, observed for every applied record of the good table.
    expect(await consumer.metric("zeroloss_consumer_end_to_end_seconds_count")).toBeGreaterThanOrEqual(ROWS);
    expect(await consumer.metric("zeroloss_consumer_end_to_end_seconds_sum")).toBeGreaterThan(0);

    // Still flowing for the good table after the stops.
    await src.query(`INSERT INTO ok_t VALUES (1000, 1)`);
    await waitForEqual(f, src, [OK], [producer, consumer]);
    await producer.stop();
  });
});
