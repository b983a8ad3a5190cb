// Crashes and group changes under a running workload: the consumer killed (-9) right after
// its target commit and before its offset commit, repeatedly, and at random moments; then
// three consumers sharing the partitions, one killed mid-stream. Each time the target must
// end equal to the source — nothing lost, nothing applied twice.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { pollUntil } from "@zeroloss/devstack";
import { readToEnd } from "@zeroloss/kafka";
import { decodeTally, topicNames } from "@zeroloss/wire";
import { pipelineFixture, sourceClient, waitForEqual, type PipelineFixture, type TableSpec } from "./harness.js";

const T: TableSpec = { name: "public.ledger", columns: ["id", "account", "amount", "memo"], key: ["id"] };

async function workload(src: pg.Client, round: number): Promise<void> {
  const base = round * 1000;
  await src.query(`INSERT INTO ledger SELECT $1::int + i, i % 17, i * 0.01, 'r' || $1::int FROM generate_series(1, 300) i`, [base]);
  await src.query(`UPDATE ledger SET amount = amount + 1, memo = 'u' || $1::int WHERE id % 5 = $1::int % 5`, [round]);
  await src.query(`DELETE FROM ledger WHERE id % 13 = $1::int % 13 AND id < $2::int`, [round, base]);
}

describe("consumer crashes and rebalances", () => {
  let f: PipelineFixture;
  let src: pg.Client;

  beforeAll(async () => {
    f = await pipelineFixture(inject("stack"), "crash", { producer: { batchRecords: 200 }, consumer: { maxBatchBytes: 65_536 } });
    src = await sourceClient(f);
    await src.query(`CREATE TABLE ledger (id int PRIMARY KEY, account int NOT NULL, amount numeric(12,2), memo text)`);
    await src.query(`INSERT INTO ledger SELECT i, i % 17, i, 'initial' FROM generate_series(1, 900) i`);
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
  });

  it("killed between the target commit and the offset commit, and at random moments: the target equals the source", async () => {
    const producer = await f.start();
    let crashes = 0;
    for (let round = 1; round <= 4; round++) {
      await workload(src, round);
      const c = await f.startConsumer({ ZEROLOSS_FAILPOINTS: "consumer.after-target-commit=crash" });
      const code = await c.exitWithin(60_000);
      expect(code, c.output().slice(-2000)).toBeNull(); // killed by its own SIGKILL
      expect(c.proc.signalCode).toBe("SIGKILL");
      crashes++;
    }
    for (let round = 5; round <= 7; round++) {
      const c = await f.startConsumer();
      await workload(src, round);
      await new Promise((r) => setTimeout(r, 300 + Math.floor(Math.random() * 900))); // a random moment, not a wait for a condition
      c.proc.kill("SIGKILL");
      await c.exitWithin(30_000);
    }
    const last = await f.startConsumer();
    await waitForEqual(f, src, [T], [producer, last]);
    expect(crashes).toBe(4);
    // Batches committed in the target before a crash kept their offsets uncommitted: read again,
    // recognised as already applied, and their tallies marked as replays.
    const replayed = await pollUntil(
      async () => {
        let n = 0;
        await readToEnd(f.kafka, topicNames(f.prefix).tallies, (r) => {
          const t = decodeTally(r.value);
          if (t.stage === "written" && t.replay === true) n += t.detail?.["duplicate"] ?? 0;
        });
        return n > 0 ? n : undefined;
      },
      { timeoutMs: 30_000, what: "written tallies of re-read records, marked replay" },
    );
    expect(replayed).toBeGreaterThan(0);
    const outbox = await pollUntil(async () => {
      const r = await f.target.query<{ n: string }>(`SELECT count(*) AS n FROM zeroloss.outbox`);
      return r.rows[0]?.n === "0" ? true : undefined;
    }, { timeoutMs: 30_000, what: "the outbox to be drained" });
    expect(outbox).toBe(true);
    expect(await last.stop()).toBe(0);
    await producer.stop();
  });

  it("three consumers share the partitions; one killed mid-stream: the target equals the source", async () => {
    const producer = await f.start();
    const group = [await f.startConsumer(), await f.startConsumer(), await f.startConsumer()];
    await workload(src, 20);
    await waitForEqual(f, src, [T], [producer, ...group]);
    await workload(src, 21);
    group[1]?.proc.kill("SIGKILL");
    await workload(src, 22);
    await waitForEqual(f, src, [T], [producer, group[0] as never, group[2] as never]);
    for (const c of [group[0], group[2]]) expect(await c?.stop()).toBe(0);
    await producer.stop();
  });
});
