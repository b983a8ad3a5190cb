// Exactly once, no gap: the producer is killed with SIGKILL at random moments, during a
// stream of more than 50,000 changes in transactions of varied size and during the
// initial snapshot. After the last restart Kafka's committed records are exactly one per
// source change (by commit LSN and sequence), and exactly one `r` per pre-existing row.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { pollUntil } from "@zeroloss/devstack";
import { parseLsn } from "@zeroloss/pg";
import { producerFixture, waitForRecords, type ProducerFixture, type RunningProducer } from "./harness.js";

const stack = inject("stack");

/** A small seeded generator, so a failing run can be repeated (the seed is in the test name's log). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("producer: kill -9 during streaming", () => {
  let f: ProducerFixture;
  let producer: RunningProducer;
  const seed = Number(process.env["ZEROLOSS_TEST_SEED"] ?? Date.now() % 100_000);

  beforeAll(async () => {
    f = await producerFixture(stack, "crashstream", { producer: { batchRecords: 2000, lingerMs: 20 } });
    await f.sql.query(`CREATE TABLE public.ledger (id bigint PRIMARY KEY, amount numeric(18,4) NOT NULL, memo text)`);
    producer = await f.start();
    await pollUntil(async () => ((await producer.metric("zeroloss_producer_phase")) === 1 && (await producer.health())?.body["status"] === "streaming" ? true : undefined), {
      timeoutMs: 60_000,
      what: "the producer to stream",
    });
  });

  afterAll(async () => {
    await producer?.stop();
    await f?.close();
  });

  it(`commits every change exactly once across at least 5 SIGKILLs (seed ${seed})`, { timeout: 240_000 }, async () => {
    const random = rng(seed);
    const sizes = [1, 1, 2, 5, 10, 50, 200, 1000, 3000];
    const issued: number[] = []; // changes per source transaction
    let total = 0;
    let nextId = 1;
    const killAt: number[] = [];
    for (let k = 1; k <= 6; k++) killAt.push(Math.floor(k * 8000 + random() * 4000));
    let kills = 0;
    const client = f.sql;
    while (total < 55_000) {
      const size = sizes[Math.floor(random() * sizes.length)] as number;
      await client.query("BEGIN");
      let changes = 0;
      const ins = Math.max(1, Math.floor(size * 0.6));
      changes += (await client.query(`INSERT INTO public.ledger SELECT g, g * 0.0001, 'memo ' || g FROM generate_series($1::bigint, $2::bigint) g`, [nextId, nextId + ins - 1])).rowCount ?? 0;
      nextId += ins;
      if (size > 1) {
        const from = Math.max(1, Math.floor(random() * (nextId - 1)));
        changes += (await client.query(`UPDATE public.ledger SET amount = amount + 1 WHERE id BETWEEN $1 AND $2`, [from, from + Math.floor(size * 0.3)])).rowCount ?? 0;
        const del = Math.max(1, Math.floor(random() * (nextId - 1)));
        changes += (await client.query(`DELETE FROM public.ledger WHERE id BETWEEN $1 AND $2`, [del, del + Math.floor(size * 0.1)])).rowCount ?? 0;
      }
      await client.query("COMMIT");
      if (changes > 0) issued.push(changes);
      total += changes;
      if (kills < killAt.length && total >= (killAt[kills] as number)) {
        producer.proc.kill("SIGKILL");
        await producer.exited;
        kills++;
        producer = await f.start();
      }
    }
    // One more kill while the producer is catching up with the backlog.
    producer.proc.kill("SIGKILL");
    await producer.exited;
    kills++;
    producer = await f.start();
    expect(kills).toBeGreaterThanOrEqual(5);

    const recs = await waitForRecords(f, "public.ledger", total, producer, 100_000);
    // Wait for the slot to confirm the end, then read again: nothing beyond the expected.
    const endLsn = (await client.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn")).rows[0]?.lsn as string;
    await pollUntil(
      async () => {
        const flushed = await f.confirmedFlush();
        return flushed !== null && parseLsn(flushed) >= parseLsn(endLsn) ? true : undefined;
      },
      { timeoutMs: 60_000, what: `the slot to confirm ${endLsn}` },
    );
    const all = await f.records("public.ledger");
    expect(all.length).toBe(recs.length);
    const ids = new Set<string>();
    const perTxn = new Map<string, number[]>();
    for (const r of all) {
      const id = `${r.envelope.source.commitLsn}/${r.envelope.source.seq}`;
      expect(ids.has(id), `duplicate record ${id}`).toBe(false);
      ids.add(id);
      perTxn.set(r.envelope.source.commitLsn, [...(perTxn.get(r.envelope.source.commitLsn) ?? []), r.envelope.source.seq]);
    }
    expect(ids.size).toBe(total);
    // Each source transaction is whole: sequence numbers 0..n-1, and the transaction sizes
    // are exactly the ones issued.
    for (const [lsn, seqs] of perTxn) {
      const sorted = [...seqs].sort((a, b) => a - b);
      expect(sorted, `transaction ${lsn}`).toEqual(sorted.map((_, i) => i));
    }
    expect([...perTxn.values()].map((s) => s.length).sort((a, b) => a - b)).toEqual([...issued].sort((a, b) => a - b));
    // Manifests agree: one per transaction, with its record count.
    const manifests = (await f.manifests()).filter((m) => m.kind === "transaction");
    expect(manifests.length).toBe(perTxn.size);
    for (const m of manifests) expect(m.records).toBe(perTxn.get(m.commitLsn)?.length);
    // Kafka transactions overlap (one commits while the next is sent, on two transactional
    // ids): still, every partition holds its records in commit order, and the committed
    // checkpoints never go back, as a restart resumes from the newest one.
    const byPartition = new Map<number, typeof all>();
    for (const r of all) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r]);
    for (const [partition, list] of byPartition) {
      const sorted = [...list].sort((a, b) => a.offset - b.offset);
      for (let i = 1; i < sorted.length; i++) {
        const [prev, cur] = [sorted[i - 1]!.envelope.source, sorted[i]!.envelope.source];
        const ordered = parseLsn(prev.commitLsn) < parseLsn(cur.commitLsn) || (prev.commitLsn === cur.commitLsn && prev.seq < cur.seq);
        expect(ordered, `partition ${partition}: ${prev.commitLsn}/${prev.seq} before ${cur.commitLsn}/${cur.seq}`).toBe(true);
      }
    }
    const checkpointLsns = (await f.checkpoints()).map((c) => parseLsn(c.lsn));
    checkpointLsns.forEach((lsn, i) => expect(lsn >= (checkpointLsns[i - 1] ?? 0n), `checkpoint ${i}`).toBe(true));
  });
});

describe("producer: kill -9 during the initial snapshot", () => {
  let f: ProducerFixture;
  let producer: RunningProducer;
  const rows = 60_000;

  beforeAll(async () => {
    f = await producerFixture(stack, "crashsnap", { source: { snapshot: { chunkSize: 500 } } });
    await f.sql.query(`CREATE TABLE public.customers (id bigint PRIMARY KEY, name text NOT NULL, score numeric(10,2))`);
    await f.sql.query(`INSERT INTO public.customers SELECT g, 'customer ' || g, g % 1000 / 7.0 FROM generate_series(1, ${rows}) g`);
    await f.sql.query(`ANALYZE public.customers`);
  });

  afterAll(async () => {
    await producer?.stop();
    await f?.close();
  });

  it("resumes after the last committed chunk: every row exactly once as r, none re-read, none missing", async () => {
    for (const fraction of [0.15, 0.5]) {
      producer = await f.start();
      await pollUntil(
        async () => {
          const done = await producer.metric("zeroloss_producer_snapshot_rows");
          return done !== null && done >= rows * fraction ? true : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 20, what: `the snapshot to pass ${fraction * 100}%` },
      );
      producer.proc.kill("SIGKILL");
      await producer.exited;
    }
    const checkpoints = await f.checkpoints();
    const last = checkpoints[checkpoints.length - 1];
    expect(last?.phase, "the kills must land inside the snapshot").toBe("snapshot");
    producer = await f.start();
    const recs = await waitForRecords(f, "public.customers", rows, producer, 180_000);
    await pollUntil(async () => ((await f.checkpoints()).at(-1)?.phase === "streaming" ? true : undefined), { timeoutMs: 60_000, what: "the snapshot to complete" });
    const all = await f.records("public.customers");
    expect(all.length).toBe(recs.length);
    expect(all.every((r) => r.envelope.op === "r")).toBe(true);
    const ids = all.map((r) => Number(r.envelope.after?.["id"])).sort((a, b) => a - b);
    expect(ids.length).toBe(rows);
    expect(ids.every((id, i) => id === i + 1)).toBe(true);
    // Streaming follows the snapshot.
    await f.sql.query(`UPDATE public.customers SET score = 0 WHERE id = 1`);
    const after = await waitForRecords(f, "public.customers", rows + 1, producer);
    expect(after.filter((r) => r.envelope.op === "u").map((r) => r.envelope.after?.["id"])).toEqual(["1"]);
  });
});

describe("producer: a previous incarnation still running", () => {
  let f: ProducerFixture;
  let producer: RunningProducer | undefined;

  beforeAll(async () => {
    f = await producerFixture(stack, "zombie");
    await f.sql.query(`CREATE TABLE public.items (id bigint PRIMARY KEY, label text)`);
  });

  afterAll(async () => {
    await producer?.stop();
    await f?.close();
  });

  it("is fenced on both transactional ids before the checkpoint is read: its open transactions can no longer commit", async () => {
    // A first run creates the topics, then stops.
    producer = await f.start();
    await pollUntil(async () => ((await producer?.health())?.body["status"] === "streaming" ? true : undefined), { timeoutMs: 60_000, what: "the producer to stream" });
    expect(await producer.stop()).toBe(0);

    // The "zombie": transactions open under the producer's transactional ids, each holding a record.
    const db = (await f.sql.query<{ db: string }>("SELECT current_database() AS db")).rows[0]?.db;
    const base = `zeroloss-producer-${db}-${f.slot}`;
    const topic = `${f.prefix}.public.items`;
    const zombies = [];
    for (const id of [base, `${base}-1`]) {
      const z = f.kafka.producer({ transactionalId: id, idempotent: true, maxInFlightRequests: 1 });
      await z.connect();
      const txn = await z.transaction();
      await txn.send({ topic, messages: [{ key: "zombie", value: `from ${id}`, partition: 0 }] });
      zombies.push({ id, z, txn });
    }

    // No source change arrives: the new incarnation sends nothing, so only fencing on start can stop the zombies.
    producer = await f.start();
    await pollUntil(async () => ((await producer?.health())?.body["status"] === "streaming" ? true : undefined), { timeoutMs: 60_000, what: "the producer to stream again" });
    for (const { id, z, txn } of zombies) {
      await expect(txn.commit(), `the zombie on ${id} must be fenced`).rejects.toThrow();
      await z.disconnect();
    }
    expect((await f.records("public.items")).length, "no zombie record is committed").toBe(0);
  });
});
