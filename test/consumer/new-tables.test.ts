// A table created at the source while the pipeline streams, matching source.tables: the
// producer adds it to the publication and snapshots it in chunks while its own changes and
// another table's keep streaming (the watermark method, services/producer/src/live-snapshot.ts),
// in both encodings. Under a workload on both tables, with a transaction held open across
// chunks, a truncate of the new table and a producer killed in the middle of its snapshot, the target must end
// equal to the source, checksum for checksum; the counter balanced and the verifier equal.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { parseLsn } from "@zeroloss/pg";
import { counterFixture, waitForSummary, type CounterFixture } from "../counter/harness.js";
import { sourceClient, waitForEqual, type TableSpec } from "./harness.js";
import { runVerify } from "../verifier/harness.js";

const stack = inject("stack");
const BASE: TableSpec = { name: "public.base", columns: ["id", "v"], key: ["id"] };
const LATE: TableSpec = { name: "public.late", columns: ["id", "grp", "v", "note", "doc"], key: ["grp", "id"] };
const LATE_ROWS = 3000;

describe.each(["json", "avro"] as const)("a table created while streaming, through the %s encoding", (encoding) => {
  let f: CounterFixture;
  const clients: pg.Client[] = [];

  beforeAll(async () => {
    f = await counterFixture(stack, `late_${encoding}`, {
      source: { snapshot: { chunkSize: 50, newTablesSeconds: 1 } },
      kafka: { encoding, registry: { url: stack.registry } },
      counter: { graceSeconds: 5 },
    });
    for (let i = 0; i < 4; i++) clients.push(await sourceClient(f));
    await clients[0]?.query(`CREATE TABLE base (id int PRIMARY KEY, v int NOT NULL)`);
    await clients[0]?.query(`INSERT INTO base SELECT i, 0 FROM generate_series(1, 100) i`);
  });

  afterAll(async () => {
    for (const c of clients) await c.end();
    await f?.close();
  });

  it("snapshots it while the stream goes on; the target equals the source", { timeout: 300_000 }, async () => {
    const [src, baseLoad, lateLoad, holder] = clients as [pg.Client, pg.Client, pg.Client, pg.Client];
    let producer = await f.start([], { ZEROLOSS_LOG_LEVEL: "info" });
    const consumer = await f.startConsumer();
    const counter = await f.startCounter();
    await waitForEqual(f, src, [BASE], [producer, consumer]);

    // The other table keeps changing throughout.
    let running = true;
    const base = (async () => {
      for (let n = 1; running; n++) await baseLoad.query(`UPDATE base SET v = v + 1 WHERE id = $1`, [1 + (n % 100)]);
    })();

    // The key's order is not the columns' order; every tenth row has a value stored out of line (TOAST).
    await src.query(`CREATE TABLE late (id int, grp text, v int NOT NULL, note text, doc text, PRIMARY KEY (grp, id))`);
    await src.query(`ALTER TABLE late ALTER COLUMN doc SET STORAGE EXTERNAL`);
    const rows = (note: string, v: number) =>
      `INSERT INTO late SELECT i, 'g' || (i % 3), ${v}, '${note} ' || i, CASE WHEN i % 10 = 0 THEN repeat(md5(i::text), 100) END FROM generate_series(1, ${LATE_ROWS}) i`;
    await src.query(rows("row", 0));
    // Changes to the new table while its chunks are read: updates, deletes, inserts below and
    // above the rows read so far, a transaction held open across chunks, and once a truncate
    // with the rows put back (a chunk read before it must be read again).
    const complete = () => producer.output().includes("table snapshot complete (taken while streaming)");
    let ops = 0;
    let truncated = false;
    let restarted = false;
    let held: Promise<unknown> | null = null;
    const deadline = Date.now() + 120_000;
    while (!complete() || ops < 200) {
      if (Date.now() > deadline || producer.proc.exitCode !== null) {
        throw new Error(`the new table's snapshot did not complete within 120 s (exit ${producer.proc.exitCode}):\n${producer.output().slice(-6000)}`);
      }
      ops++;
      const id = 1 + ((ops * 37) % LATE_ROWS);
      // Every other update leaves doc unchanged and out of line: the stream carries it as unchanged.
      await lateLoad.query(ops % 2 === 0 ? `UPDATE late SET v = v + 1 WHERE id = $1` : `UPDATE late SET v = v + 1, note = note || '.' WHERE id = $1`, [10 * (id % 300) + (ops % 2)]);
      if (ops % 7 === 0) await lateLoad.query(`DELETE FROM late WHERE id = $1`, [1 + ((ops * 11) % LATE_ROWS)]);
      if (ops % 5 === 0) await lateLoad.query(`INSERT INTO late VALUES ($1, 'new', $2, NULL, NULL) ON CONFLICT DO NOTHING`, [ops % 2 === 0 ? -ops : LATE_ROWS + ops, ops]);
      if (ops === 20) {
        // Open until a few more chunks went by: the chunks wait for it, and it commits after them.
        await holder.query(`BEGIN`);
        await holder.query(`UPDATE late SET v = -1 WHERE id BETWEEN 1000 AND 1010`);
        held = new Promise((r) => setTimeout(r, 2_000)).then(() => holder.query(`COMMIT`));
      }
      if (ops === 60 && !complete()) {
        truncated = true;
        await lateLoad.query(`BEGIN; TRUNCATE late; ${rows("again", 1)}; COMMIT`);
      }
      if (ops === 120 && !complete()) {
        // Killed in the middle of the table's snapshot: the next run goes on after the last chunk in Kafka.
        restarted = true;
        await producer.stop("SIGKILL");
        producer = await f.start([], { ZEROLOSS_LOG_LEVEL: "info" });
      }
    }
    await held;
    running = false;
    await base;
    expect(ops).toBeGreaterThanOrEqual(200);

    await waitForEqual(f, src, [BASE, LATE], [producer, consumer], 120_000);

    // The new table's rows came as snapshot reads, in chunks whose rows carry a floor below their watermark's commit.
    const reads = (await f.records("public.late")).filter((r) => r.envelope.op === "r");
    expect(reads.length).toBeGreaterThanOrEqual(LATE_ROWS / 2);
    const chunks = new Set(reads.map((r) => r.envelope.source.commitLsn));
    expect(chunks.size).toBeGreaterThan(10);
    for (const r of reads) expect(parseLsn(r.envelope.source.lsn)).toBeLessThan(parseLsn(r.envelope.source.commitLsn));
    // Its progress was in the checkpoints while it ran; the one with its last chunk says done
    // (its final rows, for the counter's progress), and no later one lists it as running.
    const checkpoints = await f.checkpoints();
    expect(checkpoints.some((c) => c.live?.some((l) => l.table === "public.late" && !l.done && l.rows > 0))).toBe(true);
    const last = checkpoints.findLastIndex((c) => c.live?.some((l) => l.table === "public.late" && l.done) === true);
    expect(last).toBeGreaterThan(0);
    expect(checkpoints.slice(last + 1).every((c) => c.live === undefined)).toBe(true);
    expect(truncated, "the truncate came while the snapshot ran").toBe(true);
    expect(restarted, "the producer was killed while the snapshot ran").toBe(true);
    expect(producer.output()).toMatch(/resuming the snapshot of a table added while streaming/);
    console.log(`late: ${ops} changes, retried chunks: ${await producer.metric("zeroloss_producer_live_snapshot_chunk_retries_total")}, chunks: ${chunks.size}`);

    const summary = await waitForSummary(counter, "every record counted as applied, no window behind", (x) => {
      const t = x.totals;
      return t.emitted > 0 && t.transferred === t.emitted && t.applied + t.duplicate === t.emitted && x.windows.behind === 0 && x.ok;
    });
    expect(summary.windows.mismatch, JSON.stringify(summary).slice(0, 3000)).toBe(0);
    const quarantine = await f.target.query(`SELECT reason_code, reason FROM zeroloss.quarantine LIMIT 3`);
    expect(summary.totals.quarantined, JSON.stringify(quarantine.rows)).toBe(0);
    const verify = await runVerify(f.configFile, ["--json"]);
    expect(verify.code, `${verify.stderr}${JSON.stringify(verify.report)}`.slice(0, 3000)).toBe(0);
    expect(verify.report?.tables.map((t) => [t.table, t.result])).toEqual([
      ["public.base", "equal"],
      ["public.late", "equal"],
    ]);
  });
});
