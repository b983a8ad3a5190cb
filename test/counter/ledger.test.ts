// The counter against the real pipeline: producer, consumer and counter as processes, a
// snapshot and streamed changes on two tables, windows of 50 offsets so that many close.
//   - a clean run: every closed window balanced, the totals equal to the source's change
//     count, every transaction complete and applied, `zeroloss status` exit 0;
//   - two counters in one group (each with partitions), one killed (SIGKILL) and another
//     started again and again mid-stream: nothing is counted twice (the totals still equal
//     the change count);
//   - a replay after an offset reset: windows marked replayed, totals not doubled;
//   - a ledger restored empty while the group's offsets are ahead: it seeks back, counts once;
//   - a ledger it cannot reach: the API says so with 503 and the ledger's address.
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { freePort, pollUntil } from "@zeroloss/devstack";
import { connect } from "@zeroloss/pg";
import { sourceClient, waitForEqual, type TableSpec } from "../consumer/harness.js";
import type { RunningProducer } from "../producer/harness.js";
import { CLI, counterFixture, metricReaches, waitForSummary, type CounterFixture, type RunningCounter, type SummaryBody } from "./harness.js";

const TABLES: TableSpec[] = [
  { name: "public.orders", columns: ["id", "amount", "note"], key: ["id"] },
  { name: "public.events", columns: ["id", "kind"], key: ["id"] },
];

/** Every record the producer emitted is in Kafka and was written; nothing unsettled. */
function settled(s: SummaryBody, changes: number): boolean {
  const t = s.totals;
  return (
    t.emitted === changes &&
    t.transferred === changes &&
    t.applied + t.duplicate + t.quarantined === changes &&
    s.windows.behind === 0 &&
    s.windows.mismatch === 0 &&
    s.transactions.pending === 0 &&
    s.transactions.complete === 0
  );
}

describe("counter ledger", () => {
  let f: CounterFixture;
  let src: pg.Client;
  let producer: RunningProducer;
  let consumer: RunningProducer;
  let counter: RunningCounter;
  /** Data records the source's changes must produce: the snapshot's (bulk) records, and one per inserted, updated or deleted row. */
  let changes = 0;

  beforeAll(async () => {
    // slowRefreshSeconds: 2: the held-up refresh below is reported within the test.
    f = await counterFixture(inject("stack"), "ctr", { tallies: { windowSize: 50 }, counter: { graceSeconds: 120, slowRefreshSeconds: 2 } });
    src = await sourceClient(f);
    await src.query(`CREATE TABLE orders (id int PRIMARY KEY, amount numeric(12,2), note text)`);
    await src.query(`CREATE TABLE events (id bigint PRIMARY KEY, kind text)`);
    await src.query(`INSERT INTO orders SELECT i, i * 1.25, 'n' || i FROM generate_series(1, 600) i`);
    await src.query(`INSERT INTO events SELECT i, 'k' || (i % 5) FROM generate_series(1, 150) i`);
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
  });

  it("a clean run: every closed window balances and the totals equal the source's change count", async () => {
    producer = await f.start();
    consumer = await f.startConsumer();
    counter = await f.startCounter();
    // The snapshot first: a change made before its consistent point is in the snapshot, not streamed.
    await waitForEqual(f, src, TABLES, [producer, consumer]);
    // The snapshot's 750 rows travel in bulk records: the ledger counts records.
    for (const t of TABLES) changes += (await f.recordsRaw(t.name)).length;
    expect(changes).toBeLessThan(750);
    await src.query(`INSERT INTO orders SELECT i, i, 'late' FROM generate_series(601, 800) i`);
    await src.query(`UPDATE orders SET amount = amount + 1 WHERE id <= 120`);
    await src.query(`DELETE FROM events WHERE id % 10 = 0`);
    await src.query(`BEGIN; INSERT INTO events VALUES (1001, 'a'), (1002, 'b'); UPDATE orders SET note = 'both' WHERE id = 5; COMMIT`);
    changes += 200 + 120 + 15 + 3;
    await waitForEqual(f, src, TABLES, [producer, consumer]);

    const s = await waitForSummary(counter, `the ledger to settle at ${changes} records`, (x) => settled(x, changes) && x.transactions.applied > 0);
    expect(s.totals).toMatchObject({ emitted: changes, transferred: changes, quarantined: 0, replayed: 0 });
    expect(s.totals.applied + s.totals.duplicate).toBe(changes);
    expect(s.windows.attention).toBe(0);
    expect(s.windows.balanced).toBeGreaterThan(5); // windows of 50 offsets over 6 partitions: many closed
    expect(s.ok).toBe(true);

    // Every closed window is balanced; open ones (the partition not yet past their end) balance so far.
    const all = await counter.api<{ windows: { state: string; emitted: number; transferred: number; applied: number; duplicate: number }[] }>("/api/windows");
    expect(all?.windows.length).toBe(s.windows.balanced + s.windows.open);
    for (const w of all?.windows ?? []) {
      expect(["balanced", "open"]).toContain(w.state);
      expect(w.emitted).toBe(w.transferred);
      expect(w.applied + w.duplicate).toBe(w.transferred);
    }
    // What Kafka holds, counted independently of the counter.
    const inKafka = (await f.recordsRaw("public.orders")).length + (await f.recordsRaw("public.events")).length;
    expect(inKafka).toBe(changes);

    // Transactions: every manifest's records were found, and applied.
    const manifests = await f.manifests();
    const txns = await waitForSummary(counter, "every transaction applied", (x) => x.transactions.applied === manifests.length);
    expect(txns.transactions).toEqual({ pending: 0, incomplete: 0, complete: 0, applied: manifests.length });
    const incomplete = await counter.api<{ transactions: unknown[] }>("/api/transactions?state=incomplete");
    expect(incomplete?.transactions).toEqual([]);

    await metricReaches(counter, "zeroloss_ledger_records", { stage: "transferred" }, (v) => v === changes);
    expect(await counter.metric("zeroloss_ledger_windows", { state: "mismatch" })).toBe(0);
    const status = await f.status(counter);
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^OK/);
  });

  it("two counters in one group share the partitions; killed -9 one at a time mid-stream, they count nothing twice", async () => {
    // Each counter's /healthz says how many partitions it holds: both some, all of them between them.
    const assigned = async (c: RunningCounter): Promise<number> => ((await c.health())?.body["details"] as { assignedPartitions?: number } | undefined)?.assignedPartitions ?? 0;
    const total = await assigned(counter);
    expect(total).toBeGreaterThan(2);
    let second = await f.startCounter();
    let seen: number[] = [];
    await pollUntil(
      async () => {
        seen = [await assigned(counter), await assigned(second)];
        return (seen[0] ?? 0) > 0 && (seen[1] ?? 0) > 0 && (seen[0] ?? 0) + (seen[1] ?? 0) === total ? true : undefined;
      },
      { timeoutMs: 60_000, what: `both counters in the group, each with partitions, ${total} in all` },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; last seen ${JSON.stringify(seen)}`);
    });
    for (let round = 0; round < 4; round++) {
      const from = 2000 + round * 300;
      await src.query(`INSERT INTO orders SELECT i, i, 'r' FROM generate_series($1::int, $2::int) i`, [from, from + 299]);
      changes += 300;
      // Wait until the counters have counted some of the round, then kill one without warning.
      const before = (await counter.api<SummaryBody>("/api/summary"))?.totals.transferred ?? 0;
      await waitForSummary(counter, "the counters to count part of the round", (x) => x.totals.transferred > before, 60_000);
      await counter.stop("SIGKILL");
      counter = second;
      second = await f.startCounter();
    }
    await waitForEqual(f, src, TABLES, [producer, consumer]);
    const s = await waitForSummary(counter, `the ledger to settle at ${changes} records after the kills`, (x) => settled(x, changes));
    expect(s.totals).toMatchObject({ emitted: changes, transferred: changes, quarantined: 0 });
    expect(s.totals.applied + s.totals.duplicate).toBe(changes);
    expect(s.ok).toBe(true);
    await second.stop("SIGKILL");
  });

  it("a replay after an offset reset marks windows replayed and does not double the totals", async () => {
    await consumer.stop();
    const reset = spawnSync(process.execPath, [CLI, "replay", "--config", f.configFile, "--to-earliest"], { encoding: "utf8", timeout: 60_000 });
    expect(reset.status, reset.stdout + reset.stderr).toBe(0);
    consumer = await f.startConsumer();
    const s = await waitForSummary(counter, "every record replayed once", (x) => x.totals.replayed === changes && x.windows.behind === 0);
    // The first count of each window stands; the replay is kept apart.
    expect(s.totals).toMatchObject({ emitted: changes, transferred: changes, quarantined: 0, replayed: changes });
    expect(s.totals.applied + s.totals.duplicate).toBe(changes);
    expect(s.windows.replayed).toBeGreaterThan(5);
    expect(s.windows.balanced).toBe(0); // every closed window was re-read
    expect(s.ok).toBe(true);
    const replayed = await counter.api<{ windows: { state: string; replayRecords: number; transferred: number }[] }>("/api/windows?state=replayed");
    for (const w of replayed?.windows ?? []) expect(w.replayRecords).toBe(w.transferred);
  });

  it("a ledger restored empty while the group's offsets are ahead: the counter seeks back and counts everything once", async () => {
    await counter.stop("SIGKILL");
    const ledger = await connect(f.ledger.url, { applicationName: "test-ledger" });
    await ledger.query("DROP SCHEMA zeroloss_counter CASCADE");
    await ledger.end();
    counter = await f.startCounter();
    // The group's committed offsets are at the end of every topic and no record arrives: only
    // reading from the (new) ledger's positions on joining the group counts them again.
    const s = await waitForSummary(counter, `every record counted again after the ledger was emptied (${changes})`, (x) => x.totals.transferred === changes && x.totals.emitted === changes);
    expect(s.totals).toMatchObject({ emitted: changes, transferred: changes, quarantined: 0 });
  });

  it("an unreachable ledger: the API answers 503 naming the ledger, not a bare 500", async () => {
    const port = await freePort(); // nothing listens there
    const blind = await f.startCounter({ ZEROLOSS_COUNTER_URL: `postgres://zeroloss@127.0.0.1:${port}/ledger` });
    const res = await pollUntil(
      async () => {
        try {
          return await fetch(`http://127.0.0.1:${blind.port}/api/summary`);
        } catch {
          return undefined; // not listening yet
        }
      },
      { timeoutMs: 30_000, what: "the counter's API to answer" },
    );
    expect(res.status).toBe(503);
    const body = (await res.json()) as { code: string; error: string };
    expect(body.code).toBe("PG_UNREACHABLE");
    expect(body.error).toMatch(/^the ledger \(counter\.url\) could not be read for the summary: /);
    expect(body.error).toContain(`127.0.0.1:${port}`);
    await blind.stop("SIGKILL");
  });

  it("a refresh held up by a lock in the ledger: the API still answers, from its own connection; the stuck step is reported", async () => {
    // The 2 s refresh settles transactions with an UPDATE; a writer's row locks (here a
    // table lock) hold it up. The soak saw /api/summary wait minutes behind such refreshes.
    const holder = await connect(f.ledger.url, { applicationName: "test-lock-holder" });
    try {
      await holder.query("BEGIN");
      await holder.query("LOCK TABLE zeroloss_counter.transactions IN EXCLUSIVE MODE");
      await pollUntil(
        async () => {
          const r = await holder.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_stat_activity WHERE application_name IN ('zeroloss-counter-refresh', 'zeroloss-counter-api') AND wait_event_type = 'Lock'`,
          );
          return Number(r.rows[0]?.n ?? 0) >= 1 ? true : undefined;
        },
        { timeoutMs: 30_000, what: "the counter's refresh to wait for the lock" },
      );
      const res = await fetch(`http://127.0.0.1:${counter.port}/api/summary`, { signal: AbortSignal.timeout(20_000) });
      expect(res.status).toBe(200);
      expect(((await res.json()) as SummaryBody).totals.emitted).toBe(changes);
      // Nothing settles while it waits: said on /healthz and in the log, naming the step.
      const slow = await pollUntil(
        async () => {
          const details = (await counter.health())?.body["details"] as { slowRefresh?: { step: string; runningSeconds: number } } | undefined;
          return details?.slowRefresh;
        },
        { timeoutMs: 30_000, what: "/healthz to report the refresh held up" },
      );
      expect(slow.step).toBe("marking applied transactions");
      expect(slow.runningSeconds).toBeGreaterThanOrEqual(2);
      await pollUntil(async () => (counter.output().includes("the ledger refresh is still marking applied transactions") ? true : undefined), {
        timeoutMs: 10_000,
        what: "the counter to log the held-up refresh",
      });
    } finally {
      await holder.query("ROLLBACK");
      await holder.end();
    }
    // Released, the refreshes go on.
    await waitForSummary(counter, "a refresh after the lock", (x) => x.totals.emitted === changes);
    await pollUntil(async () => (((await counter.health())?.body["details"] as Record<string, unknown> | undefined)?.["slowRefresh"] === undefined ? true : undefined), {
      timeoutMs: 30_000,
      what: "/healthz to stop reporting the refresh once it ended",
    });
  });
});
