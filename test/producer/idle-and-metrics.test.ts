// The slot keeps moving when the published tables are idle but the database is busy
// elsewhere (heartbeat), and /metrics + /healthz tell an SRE what the producer is doing.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { pollUntil } from "@zeroloss/devstack";
import { parseLsn } from "@zeroloss/pg";
import { producerFixture, waitForRecords, type ProducerFixture, type RunningProducer } from "./harness.js";

const stack = inject("stack");

describe("producer: idle tables, metrics and health", () => {
  let f: ProducerFixture;
  let producer: RunningProducer;

  beforeAll(async () => {
    f = await producerFixture(stack, "idle", { source: { tables: ["public.published_*"], heartbeatSeconds: 1 } });
    await f.sql.query(`CREATE TABLE public.published_orders (id int PRIMARY KEY, total numeric(12,2))`);
    await f.sql.query(`CREATE TABLE public.unpublished_noise (id serial PRIMARY KEY, blob text)`);
    await f.sql.query(`CREATE TABLE public.published_docs (id int PRIMARY KEY, body text)`);
    await f.sql.query(`ALTER TABLE public.published_docs ALTER COLUMN body SET STORAGE EXTERNAL`);
    await f.sql.query(`INSERT INTO public.published_orders VALUES (1, 10.50), (2, 20)`);
    producer = await f.start();
    await waitForRecords(f, "public.published_orders", 2, producer);
  });

  afterAll(async () => {
    await producer?.stop();
    await f?.close();
  });

  it("advances the slot while only unpublished tables change", async () => {
    const before = await f.confirmedFlush();
    await f.sql.query(`INSERT INTO public.unpublished_noise (blob) SELECT repeat('n', 200) FROM generate_series(1, 20000)`);
    const target = (await f.sql.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn")).rows[0]?.lsn as string;
    await pollUntil(
      async () => {
        const now = await f.confirmedFlush();
        return now !== null && parseLsn(now) >= parseLsn(target) ? now : undefined;
      },
      { timeoutMs: 60_000, what: `the slot to pass ${target} (it was at ${before})` },
    );
    const recs = await f.records("public.published_orders");
    expect(recs.length).toBe(2);
  });

  it("exports events, snapshot progress, lag and Kafka transactions on /metrics, and health on /healthz", async () => {
    await f.sql.query(`INSERT INTO public.published_orders VALUES (3, 1)`);
    await f.sql.query(`DELETE FROM public.published_orders WHERE id = 1`);
    await waitForRecords(f, "public.published_orders", 4, producer);
    await pollUntil(async () => ((await producer.metric("zeroloss_producer_events_total")) === 4 ? true : undefined), {
      timeoutMs: 30_000,
      what: "events_total to count 2 r + 1 c + 1 d",
    });
    expect(await producer.metric("zeroloss_producer_snapshot_rows")).toBe(2);
    expect(await producer.metric("zeroloss_producer_source_transactions_total")).toBe(2);
    expect(await producer.metric("zeroloss_producer_kafka_transactions_total")).toBeGreaterThanOrEqual(3);
    expect(await producer.metric("zeroloss_producer_replication_lag_bytes")).not.toBeNull();
    expect(await producer.metric("zeroloss_producer_slot_retained_wal_bytes")).toBeGreaterThan(0);
    const health = await producer.health();
    expect(health?.status).toBe(200);
    expect(health?.body["status"]).toBe("streaming");
  });

  it("reconnects from its durable position when its PostgreSQL connections are cut", async () => {
    const before = (await f.records("public.published_orders")).length;
    const killed = await f.sql.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'zeroloss-producer%'`,
    );
    expect(killed.rowCount).toBeGreaterThanOrEqual(2); // the control connection and the walsender
    await f.sql.query(`INSERT INTO public.published_orders VALUES (10, 10), (11, 11)`);
    const recs = await waitForRecords(f, "public.published_orders", before + 2, producer);
    expect(recs.length).toBe(before + 2);
    expect(producer.proc.exitCode).toBeNull();
    await pollUntil(async () => ((await producer.health())?.body["status"] === "streaming" ? true : undefined), { timeoutMs: 30_000, what: "streaming again" });
  });

  it("stops with TOAST_VALUE_UNAVAILABLE, naming table and column, when a key change leaves a TOAST value unsent", async () => {
    await f.sql.query(`INSERT INTO public.published_docs VALUES (1, $1)`, ["z".repeat(20_000)]);
    await f.sql.query(`UPDATE public.published_docs SET id = 2 WHERE id = 1`);
    const code = await producer.exitWithin(60_000);
    expect(code).toBe(1);
    expect(producer.output()).toContain("TOAST_VALUE_UNAVAILABLE");
    expect(producer.output()).toContain("public.published_docs");
    expect(producer.output()).toContain("REPLICA IDENTITY FULL");
    // Nothing of that transaction reached Kafka (the insert before it may have shared its
    // aborted Kafka transaction; it is sent again after the restart).
    const docs = await f.records("public.published_docs");
    expect(docs.every((r) => r.envelope.op === "c" && r.key === `{"id":"1"}`)).toBe(true);
  });
});

describe("producer: a transaction with nothing to publish that ends during a Kafka commit", () => {
  let f: ProducerFixture;
  let producer: RunningProducer;

  beforeAll(async () => {
    // No heartbeat and no linger: the commit starts at once, and only the producer itself can move the slot on.
    f = await producerFixture(stack, "idlecommit", { source: { tables: ["public.published_*"], heartbeatSeconds: 0 }, producer: { lingerMs: 0 } });
    await f.sql.query(`CREATE TABLE public.published_items (id int PRIMARY KEY)`);
    await f.sql.query(`CREATE TABLE public.other (id serial PRIMARY KEY, note text)`);
    producer = await f.start();
    await pollUntil(async () => ((await producer.health())?.body["status"] === "streaming" ? true : undefined), { timeoutMs: 60_000, what: "the producer to stream" });
  });

  afterAll(async () => {
    await producer?.stop();
    await f?.close();
  });

  it("is acknowledged once the commit lands, without waiting for another change", async () => {
    for (let round = 1; round <= 3; round++) {
      // Two transactions back to back: the first is committed to Kafka at once; the second
      // has nothing to publish but reaches the producer (a transactional logical message,
      // like the heartbeat: PostgreSQL 15+ skips empty transactions otherwise) while that
      // commit is in flight.
      await f.sql.query(
        `BEGIN; INSERT INTO public.published_items VALUES (${round}); COMMIT; ` +
          `BEGIN; INSERT INTO public.other (note) VALUES ('not published'); SELECT pg_logical_emit_message(true, 'test', 'x'); COMMIT`,
      );
      const target = (await f.sql.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn")).rows[0]?.lsn as string;
      await pollUntil(
        async () => {
          const now = await f.confirmedFlush();
          return now !== null && parseLsn(now) >= parseLsn(target) ? true : undefined;
        },
        { timeoutMs: 20_000, what: `round ${round}: the slot to pass ${target}, the end of the unpublished transaction` },
      );
    }
    expect((await f.records("public.published_items")).length).toBe(3);
  });
});
