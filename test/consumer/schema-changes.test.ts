// The source's DDL mid-stream, under load, in both encodings: ADD COLUMN (with and without a
// default), ALTER COLUMN TYPE
// widenings (integer → bigint, varchar(n) → text), RENAME COLUMN and DROP COLUMN are applied to the target
// without a restart (target.schemaChanges: apply), and source and target stay equal by
// content on the source's current columns, no window out of balance. A narrowing type change
// stops safely, naming table and column, with nothing applied past it, and resumes once
// the operator has fixed it. With Avro each change is a new schema version under BACKWARD
// compatibility; the registry refuses the narrowing one, so there the producer stops first.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { pollUntil } from "@zeroloss/devstack";
import { topicNames } from "@zeroloss/wire";
import { counterFixture, waitForSummary, type CounterFixture, type RunningCounter } from "../counter/harness.js";
import { sourceClient, waitForEqual, waitForStopped, type TableSpec } from "./harness.js";
import type { RunningProducer } from "../producer/harness.js";
import { runVerify } from "../verifier/harness.js";

const stack = inject("stack");

/** The source's current columns of evo, for the comparison. */
async function evoSpec(src: pg.Client): Promise<TableSpec> {
  const r = await src.query<{ name: string }>(`SELECT attname AS name FROM pg_attribute WHERE attrelid = 'evo'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`);
  return { name: "public.evo", columns: r.rows.map((x) => x.name), key: ["id"] };
}
/** The registry subject of evo's topic. */
const evoSubject = (prefix: string) => `${topicNames(prefix).data("public", "evo")}-value`;
const OTHER: TableSpec = { name: "public.other", columns: ["id", "v"], key: ["id"] };

/** Inserts and updates on both tables until stopped; its statements stay valid across every DDL of the test. */
function workload(src: pg.Client): { stop: () => Promise<number> } {
  let running = true;
  let n = 0;
  const done = (async () => {
    while (running) {
      n++;
      await src.query(`INSERT INTO other VALUES ($1, $2)`, [n, `v${n}`]);
      await src.query(`INSERT INTO evo (id, a) VALUES ($1::int, $1::int)`, [10_000 + n]);
      await src.query(`UPDATE evo SET a = a + 1 WHERE id = $1`, [1 + (n % 50)]);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return n;
    },
  };
}

describe.each(["json", "avro"] as const)("schema changes mid-stream through the %s encoding", (encoding) => {
  let f: CounterFixture;
  let counter: RunningCounter;
  let src: pg.Client;
  let load: pg.Client;
  let producer: RunningProducer;
  let consumer: RunningProducer;

  beforeAll(async () => {
    f = await counterFixture(stack, `ddl_${encoding}`, { kafka: { encoding, registry: { url: stack.registry } }, counter: { graceSeconds: 5 } });
    src = await sourceClient(f);
    load = await sourceClient(f);
    await src.query(`CREATE TABLE evo (id int PRIMARY KEY, a int4 NOT NULL, b varchar(10), c text NOT NULL DEFAULT 'c')`);
    await src.query(`CREATE TABLE other (id int PRIMARY KEY, v text)`);
    await src.query(`INSERT INTO evo SELECT i, i, 'b' || i, 'c' || i FROM generate_series(1, 50) i`);
    await src.query(`INSERT INTO other SELECT -i, 'v' FROM generate_series(1, 10) i`);
  });

  afterAll(async () => {
    await load?.end();
    await src?.end();
    await f?.close();
  });

  it("applies ADD COLUMN, widenings and DROP COLUMN to the target while streaming", { timeout: 600_000 }, async () => {
    producer = await f.start();
    consumer = await f.startConsumer({ ZEROLOSS_LOG_LEVEL: "info" });
    counter = await f.startCounter();
    await waitForEqual(f, src, [await evoSpec(src), OTHER], [producer, consumer]);
    const w = workload(load);
    // Each change, then rows in the new shape: a value only the new shape can hold, where it has one.
    // [DDL, an update in the new shape, the target column (name, type, NOT NULL) once it is applied]
    const steps: [string, string, string][] = [
      [`ALTER TABLE evo ADD COLUMN d text`, `d = 'd' || id`, "d text f"],
      [`ALTER TABLE evo ADD COLUMN e int DEFAULT 7`, `e = e + id`, "e integer f"], // rows older than e hold 7 without a change being streamed
      [`ALTER TABLE evo ALTER COLUMN a TYPE int8`, `a = a + 5000000000`, "a bigint f"],
      [`ALTER TABLE evo ALTER COLUMN b TYPE text`, `b = repeat('b', 40)`, "b text f"],
      [`ALTER TABLE evo RENAME COLUMN d TO d2`, `d2 = d2 || '!'`, "d2 text f"], // the values stay with the column
      [`ALTER TABLE evo DROP COLUMN c`, `a = a + 1`, "c text f"], // kept in the target (nullable, as zeroloss created it)
    ];
    for (const [i, [ddl, update, applied]] of steps.entries()) {
      await src.query(ddl);
      await src.query(`UPDATE evo SET ${update} WHERE id <= ${10 * (i + 1)}`);
      // The next change waits until this one reached the target: the producer reads a new
      // column's default from the catalog when the change arrives, and a later rewrite of the
      // table (ALTER TYPE) would have cleared it (docs/consumer.md, "Schema changes").
      await pollUntil(
        async () => {
          const r = await f.target.query<{ c: string }>(
            `SELECT attname || ' ' || format_type(atttypid, atttypmod) || ' ' || attnotnull AS c FROM pg_attribute WHERE attrelid = 'evo'::regclass AND attnum > 0 AND NOT attisdropped`,
          );
          return r.rows.some((x) => x.c === applied.replace(/ f$/, " false")) ? true : undefined;
        },
        { timeoutMs: 60_000, what: `the target to show ${applied} after ${ddl}` },
      );
    }
    const changes = await w.stop();
    expect(changes).toBeGreaterThan(0);
    await waitForEqual(f, src, [await evoSpec(src), OTHER], [producer, consumer], 120_000);

    const target = await f.target.query<{ name: string; type: string; notnull: string }>(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS notnull FROM pg_attribute WHERE attrelid = 'evo'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    );
    const shapes = await f.target.query(`SELECT lsn::text, columns::text FROM zeroloss.target_shapes`);
    expect(target.rows.map((r) => [r.name, r.type]), `${JSON.stringify(target.rows)} ${JSON.stringify(shapes.rows)}\n${consumer.output().split("\n").filter((l) => l.includes("altered")).join("\n")}`).toEqual([
      ["id", "integer"],
      ["a", "bigint"],
      ["b", "text"],
      ["c", "text"], // dropped at the source: kept in the target with its values, now nullable
      ["_zeroloss_lsn", "pg_lsn"],
      ["d2", "text"],
      ["e", "integer"],
    ]);
    const unchanged = await f.target.query(`SELECT count(*) AS n FROM evo WHERE id BETWEEN 21 AND 50 AND e = 7`);
    expect(unchanged.rows[0]).toEqual({ n: "30" }); // older rows no change touched since: the default's value, as at the source
    expect(target.rows.find((r) => r.name === "c")?.notnull).toBe("f"); // the test's target connection returns text
    expect((await f.target.query(`SELECT count(*) AS n FROM zeroloss.quarantine`)).rows[0]).toEqual({ n: "0" });
    // at least: added d and e, widened a and b, renamed d
    expect(await consumer.metric("zeroloss_consumer_schema_changes_total", { table: "public.evo" })).toBeGreaterThanOrEqual(5);

    if (encoding === "avro") {
      const subject = evoSubject(f.prefix);
      const versions = (await (await fetch(`${stack.registry}/subjects/${encodeURIComponent(subject)}/versions`)).json()) as number[];
      // The first column list, then at least one version per change (a producer that restarts
      // re-reads an older list's catalog facts: another version of it, as BACKWARD compatible).
      expect(versions.length).toBeGreaterThanOrEqual(7);
      expect(versions).toEqual(versions.map((_, i) => i + 1));
      const latest = (await (await fetch(`${stack.registry}/subjects/${encodeURIComponent(subject)}/versions/latest`)).json()) as { schema: string };
      const after = (JSON.parse(latest.schema) as { fields: { name: string; type: unknown }[] }).fields.find((x) => x.name === "after")?.type as [string, { fields: { name: string; type: unknown }[] }];
      expect(after[1].fields.map((x) => [x.name, x.type])).toEqual([
        ["id", ["null", "int"]],
        ["a", ["null", "long"]],
        ["b", ["null", "string"]],
        ["d2", ["null", "string"]],
        ["e", ["null", "int"]],
      ]);
    }

    // The counter counts across the versions: every record emitted is in Kafka and applied, no window out of balance.
    const summary = await waitForSummary(counter, "every record counted as applied, no window behind", (x) => {
      const t = x.totals;
      return t.emitted > 0 && t.transferred === t.emitted && t.applied + t.duplicate === t.emitted && x.windows.behind === 0 && x.ok;
    });
    expect(summary.windows.mismatch).toBe(0);
    expect(summary.totals.quarantined).toBe(0);

    // The verifier compares by content on the source's current columns, across the changes.
    const verify = await runVerify(f.configFile, ["--json"]);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.report?.result).toBe("equal");
    expect(verify.report?.tables.map((t) => [t.table, t.result, t.sourceRows === t.targetRows])).toEqual([
      ["public.evo", "equal", true],
      ["public.other", "equal", true],
    ]);
  });

  it("stops at a narrowing type change, naming table and column, and resumes once the operator fixed it", { timeout: 300_000 }, async () => {
    await src.query(`ALTER TABLE evo ALTER COLUMN a TYPE int4 USING (a % 1000000)::int4`);
    await src.query(`UPDATE evo SET a = 7 WHERE id = 1`);
    if (encoding === "avro") {
      // long → int is not BACKWARD compatible: the registry refuses the new version, the producer stops.
      expect(await producer.exitWithin(60_000)).toBe(1);
      expect(producer.output()).toMatch(/SCHEMA_INCOMPATIBLE/);
      expect(producer.output()).toMatch(/public\.evo/);
      // The operator accepts the change for this subject, and starts the producer again.
      const subject = evoSubject(f.prefix);
      const put = await fetch(`${stack.registry}/config/${encodeURIComponent(subject)}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ compatibility: "NONE" }) });
      expect(put.status).toBe(200);
      producer = await f.start();
    }
    const stopped = await waitForStopped(consumer, "the consumer to stop the partition of the narrowed table");
    expect(stopped[0]?.code).toBe("TARGET_COLUMN_TYPE");
    expect(stopped[0]?.message).toMatch(/target table public\.evo: column a is bigint in the target but integer in the source; changing it could lose or alter data/);
    expect((await f.target.query(`SELECT a FROM evo WHERE id = 1`)).rows[0]).not.toEqual({ a: "7" }); // nothing applied past it

    // The operator narrows the target too, and restarts the consumer: it resumes where it stopped.
    await f.target.query(`ALTER TABLE evo ALTER COLUMN a TYPE int4 USING (a % 1000000)::int4`);
    await consumer.stop();
    consumer = await f.startConsumer();
    await waitForEqual(f, src, [await evoSpec(src), OTHER], [producer, consumer]);
    await producer.stop();
    // The target may already be equal before the new consumer has even set up its signal
    // handling (a SIGTERM then ends it by signal): wait until it serves /healthz.
    await pollUntil(async () => ((await consumer.health()) === null ? undefined : true), { timeoutMs: 60_000, what: "the restarted consumer to serve /healthz" });
    expect(await consumer.stop()).toBe(0);
  });

  it("stops when a column is dropped and added again under the same name (the target's holds the old values)", { timeout: 300_000 }, async () => {
    producer = await f.start();
    consumer = await f.startConsumer();
    await src.query(`ALTER TABLE evo DROP COLUMN e`);
    await src.query(`ALTER TABLE evo ADD COLUMN e int`);
    await src.query(`UPDATE evo SET e = 1 WHERE id = 2`);
    const stopped = await waitForStopped(consumer, "the consumer to stop the partition of the table whose column was replaced");
    expect(stopped[0]?.code).toBe("TARGET_COLUMN_REPLACED");
    expect(stopped[0]?.message).toMatch(/target table public\.evo: column e was dropped and added again at the source/);
    await producer.stop();
    await consumer.stop();
  });
});
