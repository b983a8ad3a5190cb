// Source → producer → Kafka → consumer → target, with real processes: a snapshot plus a
// mixed workload on several tables (inserts, updates, deletes, a key change, a truncate,
// an update that leaves a TOASTed value unchanged) must leave the target equal to the
// source by content, every record accounted for in the written tallies.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { decodeTally, topicNames } from "@zeroloss/wire";
import { readToEnd } from "@zeroloss/kafka";
import { pollUntil } from "@zeroloss/devstack";
import { pipelineFixture, sourceClient, waitForEqual, type PipelineFixture, type TableSpec } from "./harness.js";

const TABLES: TableSpec[] = [
  { name: "public.accounts", columns: ["id", "owner", "balance", "note", "opened", "attrs", "flag"], key: ["id"] },
  { name: `public."Mixed Case"`, columns: ["k1", "k2", "v"], key: ["k1", "k2"] },
  { name: "public.docs", columns: ["id", "body", "n"], key: ["id"] },
];

describe("consumer end to end", () => {
  let f: PipelineFixture;
  let src: pg.Client;
  const big = "x".repeat(20_000) + "y".repeat(20_000); // stored out of line (TOAST), compressed

  beforeAll(async () => {
    f = await pipelineFixture(inject("stack"), "e2e");
    src = await sourceClient(f);
    await src.query(`CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance numeric(18,4), note text, opened timestamptz, attrs jsonb, flag boolean)`);
    await src.query(`CREATE TABLE "Mixed Case" (k1 int, k2 text, v text, PRIMARY KEY (k1, k2))`);
    await src.query(`CREATE TABLE docs (id int PRIMARY KEY, body text, n int)`);
    await src.query(`ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL`);
    await src.query(
      `INSERT INTO accounts SELECT i, 'owner ' || i, i * 1.5, CASE WHEN i % 3 = 0 THEN NULL WHEN i % 3 = 1 THEN '' ELSE E'tab\\there\\nline \\\\ back' END,
         '2026-01-01 00:00:00.000001+00'::timestamptz + i * interval '1 second', jsonb_build_object('i', i, 'tags', jsonb_build_array('a', i)), i % 2 = 0
       FROM generate_series(1, 2000) i`,
    );
    await src.query(`INSERT INTO "Mixed Case" SELECT i, 'k' || i, 'v' || i FROM generate_series(1, 300) i`);
    await src.query(`INSERT INTO docs SELECT i, $1 || i, i FROM generate_series(1, 20) i`, [big]);
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
  });

  it("applies a snapshot and a mixed workload; the target equals the source, checksum for checksum", async () => {
    const producer = await f.start();
    const consumer = await f.startConsumer();
    await waitForEqual(f, src, TABLES, [producer, consumer]);

    // Streamed changes: inserts, updates, deletes, a key change, NULL/empty/special text.
    await src.query(`INSERT INTO accounts SELECT i, 'late ' || i, -i, NULL, now(), '{}'::jsonb, NULL FROM generate_series(2001, 2500) i`);
    await src.query(`UPDATE accounts SET balance = balance + 0.0001, note = 'upd' WHERE id % 7 = 0`);
    await src.query(`DELETE FROM accounts WHERE id % 11 = 0`);
    await src.query(`UPDATE accounts SET id = id + 100000 WHERE id BETWEEN 5 AND 9`);
    await src.query(`BEGIN; UPDATE accounts SET owner = 'twice' WHERE id = 1; UPDATE accounts SET owner = 'thrice' WHERE id = 1; DELETE FROM accounts WHERE id = 2; INSERT INTO accounts (id, owner) VALUES (2, 'reborn'); COMMIT`);
    // TOAST: n changes, body is not sent (unchanged) and must survive.
    await src.query(`UPDATE docs SET n = n + 1000 WHERE id <= 10`);
    await src.query(`BEGIN; UPDATE docs SET n = -1 WHERE id = 11; UPDATE docs SET n = -2 WHERE id = 11; COMMIT`);
    // Truncate, then new rows after it.
    await src.query(`TRUNCATE "Mixed Case"`);
    await src.query(`INSERT INTO "Mixed Case" SELECT i, 'after' || i, 'w' FROM generate_series(1, 50) i`);
    await waitForEqual(f, src, TABLES, [producer, consumer]);

    const body = await f.target.query<{ n: string; len: string; ok: string }>(`SELECT n, length(body) AS len, (body = $1 || id) AS ok FROM docs WHERE id = 3`, [big]);
    expect(body.rows[0]).toEqual({ n: "1003", len: String(big.length + 1), ok: "t" });
    const quarantine = await f.target.query<{ n: string }>(`SELECT count(*) AS n FROM zeroloss.quarantine`);
    expect(quarantine.rows[0]?.n).toBe("0");

    // Every data record is in the written tallies, once, and was applied.
    const topics = topicNames(f.prefix);
    let dataRecords = 0;
    for (const t of ["accounts", "Mixed Case", "docs"]) dataRecords += (await f.recordsRaw(`public.${t}`)).length;
    const written = await pollUntil(
      async () => {
        const tallies: ReturnType<typeof decodeTally>[] = [];
        await readToEnd(f.kafka, topics.tallies, (r) => tallies.push(decodeTally(r.value)));
        const w = tallies.filter((t) => t.stage === "written");
        return w.reduce((s, t) => s + t.count, 0) >= dataRecords ? w : undefined;
      },
      { timeoutMs: 30_000, what: "written tallies for every data record" },
    );
    expect(written.reduce((s, t) => s + t.count, 0)).toBe(dataRecords);
    expect(written.reduce((s, t) => s + (t.detail?.["quarantined"] ?? 0), 0)).toBe(0);
    expect(written.every((t) => t.replay !== true)).toBe(true);

    const applied = await consumer.metric("zeroloss_consumer_records_total");
    expect(applied).toBe(dataRecords);
    const health = await consumer.health();
    expect(health?.status).toBe(200);
    await producer.stop();
    expect(await consumer.stop()).toBe(0);
  });
});
