// The verifier beside a running pipeline: with a workload updating rows all the time, what
// differs is mostly in flight. `zeroloss verify --sustain` must sort that out (re-read until
// the change arrived) and report zero drift sustained; a real difference, written into the
// target behind the pipeline's back, must still be reported, by row and column.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { pipelineFixture, sourceClient, waitForEqual, type PipelineFixture, type TableSpec } from "../consumer/harness.js";
import type { RunningProducer } from "../producer/harness.js";
import { runVerify } from "./harness.js";

const TABLES: TableSpec[] = [{ name: "public.items", columns: ["id", "v", "n"], key: ["id"] }];
const HOT = 400; // the workload touches ids 1..HOT; ids above stay still

describe("verifier under load", () => {
  let f: PipelineFixture;
  let src: pg.Client;
  let producer: RunningProducer;
  let consumer: RunningProducer;
  let stopWorkload = false;
  let workload: Promise<number>;

  beforeAll(async () => {
    f = await pipelineFixture(inject("stack"), "vload", { verify: { settleSeconds: 6, quietMs: 500, leafRows: 50 } });
    src = await sourceClient(f);
    await src.query("CREATE TABLE items (id int PRIMARY KEY, v text, n int NOT NULL)");
    await src.query("INSERT INTO items SELECT i, 'v' || i, 0 FROM generate_series(1, 500) i");
    producer = await f.start();
    consumer = await f.startConsumer();
    await waitForEqual(f, src, TABLES, [producer, consumer]);
    workload = (async () => {
      let updates = 0;
      while (!stopWorkload) {
        const id = 1 + Math.floor(Math.random() * HOT);
        await src.query("UPDATE items SET n = n + 1, v = 'v' || id || '-' || (n + 1) WHERE id = $1", [id]);
        updates++;
        await new Promise((r) => setTimeout(r, 10)); // a steady trickle of changes, not a condition wait
      }
      return updates;
    })();
  });

  afterAll(async () => {
    stopWorkload = true;
    await workload;
    await src?.end();
    await f?.close();
  });

  it("reports zero drift sustained while changes keep flowing", async () => {
    const before = await src.query<{ n: string }>("SELECT sum(n)::text AS n FROM items");
    const run = await runVerify(f.configFile, ["--json", "--sustain", "4"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.report).toMatchObject({ result: "equal", sustain: { seconds: 4 } });
    expect(run.report!.sustain!.reachedSeconds).toBeGreaterThanOrEqual(4);
    expect(run.report!.passes).toBeGreaterThanOrEqual(2);
    const after = await src.query<{ n: string }>("SELECT sum(n)::text AS n FROM items");
    expect(Number(after.rows[0]!.n)).toBeGreaterThan(Number(before.rows[0]!.n)); // the workload really ran meanwhile
  });

  it("still reports a real difference, by row and column", async () => {
    await f.target.query("UPDATE items SET v = 'damaged' WHERE id = 450");
    const run = await runVerify(f.configFile, ["--json", "--sustain", "4"]);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    const t = run.report!.tables.find((x) => x.table === "public.items")!;
    const rows = t.rows.filter((r) => r.settled);
    expect(rows).toEqual([{ key: { id: "450" }, kind: "changed", settled: true, columns: [{ column: "v", source: "v450", target: "damaged" }] }]);
  });
});
