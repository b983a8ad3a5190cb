// The race in which a backfill silently won over live writes: the initial snapshot of a
// table read while other sessions keep updating its rows. Every update adds 1 to `v`, so a
// row that ever goes backwards in the target (a smaller v, or a smaller applied LSN) was
// overwritten by an older version. The target is sampled while the stream runs; at the end
// it must equal the source. Then a stale snapshot record, sent again as a late backfill
// would be, must be counted a duplicate and leave the newer row alone.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import pg from "pg";
import { pollUntil } from "@zeroloss/devstack";
import { topicNames } from "@zeroloss/wire";
import { pipelineFixture, sourceClient, waitForEqual, type PipelineFixture, type TableSpec } from "./harness.js";

const HOT: TableSpec = { name: "public.hot", columns: ["id", "v", "pad"], key: ["id"] };
const ROWS = 3000;

/** Sessions updating random rows (v = v + 1) as fast as they can until stopped; counts their transactions. */
function startUpdaters(url: string, sessions: number): { done: () => number; stop: () => Promise<void> } {
  let stopping = false;
  let transactions = 0;
  const loops = Array.from({ length: sessions }, async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      while (!stopping) {
        const ids = Array.from({ length: 20 }, () => 1 + Math.floor(Math.random() * ROWS));
        await c.query(`UPDATE hot SET v = v + 1 WHERE id = ANY($1::int[])`, [ids]);
        transactions++;
      }
    } finally {
      await c.end();
    }
  });
  return {
    done: () => transactions,
    stop: async () => {
      stopping = true;
      await Promise.all(loops);
    },
  };
}

describe("consumer: snapshot under concurrent updates", () => {
  let f: PipelineFixture;
  let src: pg.Client;

  beforeAll(async () => {
    // Small chunks: the snapshot takes many transactions, with updates committed between them.
    f = await pipelineFixture(inject("stack"), "race", { source: { snapshot: { chunkSize: 100 } } });
    src = await sourceClient(f);
    await src.query(`CREATE TABLE hot (id int PRIMARY KEY, v bigint NOT NULL, pad text NOT NULL)`);
    await src.query(`INSERT INTO hot SELECT i, 0, repeat('p', 200) FROM generate_series(1, ${ROWS}) i`);
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
  });

  it("no target row ever goes back to an older version; at the end the target equals the source", async () => {
    const updaters = startUpdaters(f.db.url, 3);
    let stopped = false;
    try {
      // Updates running before the snapshot starts and all through it.
      await pollUntil(async () => (updaters.done() >= 50 ? true : undefined), { timeoutMs: 30_000, what: "the updaters to get going" });
      const producer = await f.start();
      const consumer = await f.startConsumer();

      const seen = new Map<number, { v: bigint; lsn: bigint }>();
      const backwards: string[] = [];
      let samples = 0;
      const sample = async () => {
        const { rows } = await f.target.query<{ id: string; v: string; lsn: string }>(`SELECT id, v, _zeroloss_lsn::text AS lsn FROM hot`);
        for (const r of rows) {
          const [hi, lo] = r.lsn.split("/") as [string, string];
          const now = { v: BigInt(r.v), lsn: (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`) };
          const before = seen.get(Number(r.id));
          if (before !== undefined && (now.v < before.v || now.lsn < before.lsn)) {
            backwards.push(`id ${r.id}: v ${before.v} → ${now.v}, LSN ${before.lsn.toString(16)} → ${now.lsn.toString(16)}`);
          }
          seen.set(Number(r.id), now);
        }
        samples++;
        return rows.length;
      };
      // Sample until every row has arrived and 300 more update transactions have streamed through.
      const mark = { at: -1 };
      await pollUntil(
        async () => {
          const n = await sample();
          if (n === ROWS && mark.at < 0) mark.at = updaters.done();
          return mark.at >= 0 && updaters.done() >= mark.at + 300 ? true : undefined;
        },
        {
          timeoutMs: 120_000,
          intervalMs: 100,
          what: `all ${ROWS} rows in the target and 300 more update transactions`,
          abortIf: () => {
            for (const p of [producer, consumer]) if (p.proc.exitCode !== null) throw new Error(`a service exited:\n${p.output().slice(-4000)}`);
          },
        },
      );
      await updaters.stop();
      stopped = true;
      await waitForEqual(f, src, [HOT], [producer, consumer], 120_000);
      await sample();
      expect(backwards).toEqual([]);
      expect(samples).toBeGreaterThan(3);

      // The race was real: rows were read by the snapshot and changed by the stream.
      const records = await f.records("public.hot");
      const snapshotKeys = new Set(records.filter((r) => r.envelope.op === "r").map((r) => r.key));
      const updatedAfter = new Set(records.filter((r) => r.envelope.op === "u" && snapshotKeys.has(r.key)).map((r) => r.key));
      expect(snapshotKeys.size).toBe(ROWS);
      expect(updatedAfter.size).toBeGreaterThan(ROWS / 2);

      // A late backfill: the snapshot record of a row that changed since, sent again.
      const stale = records.find((r) => r.envelope.op === "r" && updatedAfter.has(r.key));
      expect(stale).toBeDefined();
      const { envelope, key, partition } = stale as NonNullable<typeof stale>;
      const id = Number(envelope.after?.["id"]);
      const current = (await f.target.query<{ v: string; lsn: string }>(`SELECT v, _zeroloss_lsn::text AS lsn FROM hot WHERE id = $1`, [id])).rows[0];
      expect(BigInt(current?.v ?? "0")).toBeGreaterThan(BigInt(envelope.after?.["v"] ?? "0"));
      const duplicatesBefore = (await consumer.metric("zeroloss_consumer_records_total", { table: "public.hot", result: "duplicate" })) ?? 0;
      const send = f.kafka.producer({ allowAutoTopicCreation: false });
      await send.connect();
      await send.send({ topic: topicNames(f.prefix).data("public", "hot"), acks: -1, messages: [{ key, value: JSON.stringify(envelope), partition }] });
      await send.disconnect();
      await pollUntil(
        async () => (((await consumer.metric("zeroloss_consumer_records_total", { table: "public.hot", result: "duplicate" })) ?? 0) > duplicatesBefore ? true : undefined),
        {
          timeoutMs: 30_000,
          what: "the stale snapshot record to be counted a duplicate",
          abortIf: () => {
            if (consumer.proc.exitCode !== null) throw new Error(`the consumer exited:\n${consumer.output().slice(-4000)}`);
          },
        },
      );
      const after = (await f.target.query<{ v: string; lsn: string }>(`SELECT v, _zeroloss_lsn::text AS lsn FROM hot WHERE id = $1`, [id])).rows[0];
      expect(after).toEqual(current);
      await waitForEqual(f, src, [HOT], [producer, consumer]);
      await producer.stop();
    } finally {
      if (!stopped) await updaters.stop();
    }
  });
});
