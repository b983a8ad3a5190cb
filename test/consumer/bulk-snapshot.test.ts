// The initial load at scale (issue 21): several tables and one large one read by two
// snapshot workers in key ranges, as bulk records (rows in COPY text, a checksum each),
// while the large table takes updates and deletes; the target must equal the source,
// checksum for checksum. Then bulk records a faulty producer could write: one with an
// altered row (that row alone is quarantined and named; the others are applied) and one
// the target cannot load (quarantined whole, named; the stream goes on), and one whose key
// field is not its row's key. A counter runs throughout: its ledger counts every row once,
// in records and in rows, and names quarantined rows apart from their records.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { rowChecksum } from "@zeroloss/checksum";
import { pollUntil } from "@zeroloss/devstack";
import { createKafka } from "@zeroloss/kafka";
import { silentLogger } from "@zeroloss/observability";
import { copyField, encodeEnvelope, encodeKey, rowsOfRecord, topicNames, type Envelope, type EnvelopeColumn } from "@zeroloss/wire";
import { counterFixture, waitForSummary, type CounterFixture, type RunningCounter } from "../counter/harness.js";
import { sourceClient, waitForEqual, type TableSpec } from "./harness.js";

const BIG_ROWS = 120_000;
const BIG: TableSpec = { name: "public.big", columns: ["id", "amount", "note", "created", "attrs"], key: ["id"] };
const SMALL: TableSpec[] = [1, 2, 3].map((i) => ({ name: `public.small_${i}`, columns: ["k", "v"], key: ["k"] }));

describe("bulk, parallel snapshot", () => {
  let f: CounterFixture;
  let src: pg.Client;
  let counter: RunningCounter;

  beforeAll(async () => {
    f = await counterFixture(inject("stack"), "bulk", { source: { snapshot: { workers: 2, chunkSize: 4_000 } } });
    src = await sourceClient(f);
    await src.query(`CREATE TABLE big (id bigint PRIMARY KEY, amount numeric(18,4) NOT NULL, note text, created timestamptz NOT NULL, attrs jsonb)`);
    await src.query(
      `INSERT INTO big SELECT g, (g * 7919 % 100000000)::numeric / 10000, CASE WHEN g % 10 = 0 THEN NULL WHEN g % 10 = 1 THEN '' ELSE E'n\\t' || g || E'\\\\x\\n' END,
         timestamptz '2026-01-01 00:00:00+00' + g * interval '1.000123 second', jsonb_build_object('k', g % 16, 'flag', g % 2 = 0)
       FROM generate_series(1, ${BIG_ROWS}) g`,
    );
    for (const t of SMALL) {
      const name = t.name.split(".")[1] as string;
      await src.query(`CREATE TABLE ${name} (k text PRIMARY KEY, v int)`);
      await src.query(`INSERT INTO ${name} SELECT 'key ' || i, i FROM generate_series(1, 5000) i`);
    }
    await src.query("ANALYZE");
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
  });

  it("loads several tables and a large one under updates, deletes and kill -9 of both services; the target equals the source", async () => {
    counter = await f.startCounter();
    let producer = await f.start();
    let consumer = await f.startConsumer();
    const snapshotRows = async () => (await producer.metric("zeroloss_producer_snapshot_rows", { table: "public.big" })) ?? 0;
    const passed = (rows: number) =>
      pollUntil(async () => ((await snapshotRows()) >= rows ? true : undefined), {
        timeoutMs: 120_000,
        intervalMs: 20,
        what: `${rows} snapshot rows of public.big committed`,
        abortIf: () => {
          if (producer.proc.exitCode !== null) throw new Error(`the producer exited:\n${producer.output().slice(-3000)}`);
        },
      });
    await passed(1);
    // Changes while the snapshot reads: streamed after it, they must win over the rows it read.
    for (let round = 0; round < 5; round++) {
      await src.query(`UPDATE big SET amount = amount + 1, note = 'changed ' || $1::int WHERE id % 97 = $1::int`, [round]);
      await src.query(`DELETE FROM big WHERE id % 101 = $1::int`, [round]);
      await src.query(`INSERT INTO big SELECT g, 1, 'late', now(), NULL FROM generate_series(${BIG_ROWS + 1 + round * 100}, ${BIG_ROWS + 100 + round * 100}) g`);
    }
    // kill -9 mid-load: the consumer (its batch in the target or not), then the producer (a chunk in Kafka or not), then the producer again, then the consumer again.
    consumer.proc.kill("SIGKILL");
    await consumer.exited;
    consumer = await f.startConsumer();
    await passed(BIG_ROWS * 0.3);
    producer.proc.kill("SIGKILL");
    await producer.exited;
    expect((await f.checkpoints()).at(-1)?.phase, "the producer's kill must land inside the snapshot").toBe("snapshot");
    producer = await f.start();
    // And once more, resumed from its ranges' checkpoints.
    await passed(BIG_ROWS * 0.6);
    producer.proc.kill("SIGKILL");
    await producer.exited;
    expect((await f.checkpoints()).at(-1)?.phase, "the producer's second kill must land inside the snapshot").toBe("snapshot");
    producer = await f.start();
    consumer.proc.kill("SIGKILL");
    await consumer.exited;
    consumer = await f.startConsumer();
    await waitForEqual(f, src, [BIG, ...SMALL], [producer, consumer], 180_000);
    // Progress metrics: the snapshot's rate and time left, both 0 once it has ended.
    await pollUntil(async () => ((await producer.metric("zeroloss_producer_snapshot_eta_seconds")) === 0 ? true : undefined), { timeoutMs: 30_000, what: "the snapshot's ETA to read 0" });
    expect(await producer.metric("zeroloss_producer_snapshot_rows_per_second")).toBe(0);
    // The restarted producer's estimate: the table's statistics (rows were deleted since; autovacuum may have analyzed it) or the rows committed.
    expect(await producer.metric("zeroloss_producer_snapshot_rows_estimated", { table: "public.big" })).toBeGreaterThan(BIG_ROWS / 2);

    // The rows travelled in bulk, cut into key ranges read by both workers.
    const big = await f.recordsRaw("public.big");
    const snapshotRecords = big.filter((r) => r.envelope.rows !== undefined);
    const bulkRows = snapshotRecords.reduce((n, r) => n + (r.envelope.rows?.count ?? 0), 0);
    expect(snapshotRecords.length).toBeLessThan(bulkRows / 100);
    // Every key the snapshot read is in Kafka exactly once, though the producer was killed mid-load.
    const keys = (await f.records("public.big")).filter((r) => r.envelope.op === "r").map((r) => r.key);
    expect(keys.length).toBe(bulkRows);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.length).toBeGreaterThanOrEqual(BIG_ROWS - 5 * Math.ceil(BIG_ROWS / 101));
    const last = (await f.checkpoints()).filter((c) => c.phase === "snapshot").at(-1);
    const ranges = last?.snapshot?.tables.find((t) => t.table === "public.big")?.ranges ?? [];
    expect(ranges.length).toBeGreaterThan(1);
    expect(ranges.every((r) => r.done)).toBe(true);
    expect(ranges.reduce((n, r) => n + r.rows, 0)).toBe(bulkRows);
    const quarantined = await f.target.query<{ n: string }>(`SELECT count(*) AS n FROM zeroloss.quarantine`);
    expect(quarantined.rows[0]?.n).toBe("0");

    // The ledger counts every committed record and every row in them once, at every stage,
    // though both services were killed mid-load (aborted records and re-read ones aside).
    const inKafka = (await Promise.all([BIG, ...SMALL].map((t) => f.recordsRaw(t.name)))).flat();
    const records = inKafka.length;
    const rows = inKafka.reduce((n, r) => n + rowsOfRecord(r.envelope), 0);
    expect(rows).toBeGreaterThan(records * 10);
    const s = await waitForSummary(
      counter,
      `the ledger to count ${records} records holding ${rows} rows at every stage`,
      (x) => x.windows.behind === 0 && x.totals.transferred === records && x.totals.rows.transferred === rows && x.totals.rows.applied + x.totals.rows.duplicate === rows,
      120_000,
    );
    expect(s.totals).toMatchObject({ emitted: records, transferred: records, quarantined: 0 });
    expect(s.totals.rows).toMatchObject({ emitted: rows, transferred: rows, quarantined: 0 });
    expect(s.totals.applied + s.totals.duplicate).toBe(records);
    expect(s.ok).toBe(true);
    // Progress from the checkpoints, across the producer's restart: every range's rows, done.
    expect(s.snapshots?.find((t) => t.table === "public.big")).toMatchObject({ kind: "initial", done: true, rows: bulkRows, etaSeconds: 0 });
    expect(await consumer.stop()).toBe(0);
    expect(await producer.stop()).toBe(0);
  }, 300_000);

  it("quarantines the one altered row of a bulk record by its key, applies the others, and a record the target cannot load whole", async () => {
    const consumer = await f.startConsumer();
    const columns: EnvelopeColumn[] = [
      { name: "k", type: "text", typeOid: 25, typmod: -1, key: true },
      { name: "v", type: "integer", typeOid: 23, typmod: -1 },
    ];
    const line = (k: string, v: string, sent = v) => `${copyField(encodeKey(columns, { k }))}\t${rowChecksum(["k", "v"], [k, v])}\t${k}\t${sent}\n`;
    const record = (copy: string, count: number, seq: number): Envelope => ({
      v: 1,
      op: "r",
      source: { db: f.db.name, schema: "public", table: "small_1", lsn: "0/10", commitLsn: "0/20", xid: null, commitTime: `2026-12-06T00:00:0${seq}.000000Z`, seq: 0 },
      columns,
      after: null,
      before: null,
      partition: 0,
      rows: { count, copy },
      checksum: null,
    });
    // The middle row (a key the target holds) was altered after its checksum was computed.
    const altered = record(line("new 1", "1") + line("key 7", "7", "20007") + line("new 3", "3"), 3, 1);
    const unreadable = record(line("new 4", "4") + line("new 5", "5", "not a number"), 2, 2);
    // A key field that is not its row's key (the tombstones and the LSN guard go by it).
    const forged = record(`${copyField(encodeKey(columns, { k: "forged" }))}\t${rowChecksum(["k", "v"], ["new 7", "7"])}\tnew 7\t7\n`, 1, 4);
    const after = record(line("new 6", "6"), 1, 3);
    const kafka = createKafka({ connection: { brokers: inject("stack").kafka }, clientId: "test-bulk-faults", log: silentLogger() });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      await producer.send({
        topic: topicNames(f.prefix).data("public", "small_1"),
        messages: [altered, unreadable, forged, after].map((e) => ({ key: null, value: encodeEnvelope(e), partition: 0 })),
      });
    } finally {
      await producer.disconnect();
    }
    const rows = await pollUntil(
      async () => {
        const r = await f.target.query<{ k: string; v: string }>(`SELECT k, v FROM small_1 WHERE k LIKE 'new %' ORDER BY k`);
        return r.rows.some((x) => x.k === "new 6") ? r.rows : undefined;
      },
      { timeoutMs: 60_000, what: "the record after the faulty ones to be applied" },
    );
    expect(rows.map((r) => r.k)).toEqual(["new 1", "new 3", "new 6"]);
    const q = await f.target.query<{ reason_code: string; reason: string; record_key: string | null; differing_columns: string | null; envelope: string | null }>(
      `SELECT reason_code, reason, record_key, differing_columns, envelope FROM zeroloss.quarantine ORDER BY id`,
    );
    expect(q.rows, JSON.stringify(q.rows.map((r) => [r.reason_code, r.reason]))).toHaveLength(3);
    const mismatch = q.rows.find((r) => r.reason_code === "CHECKSUM_MISMATCH");
    const unloadable = q.rows.find((r) => r.reason_code === "BULK_ROWS_UNREADABLE");
    const wrongKey = q.rows.find((r) => r.reason_code === "WIRE_KEY_MISMATCH");
    expect(wrongKey?.reason).toContain(`a row's key field {"k":"forged"} is not the key of its values, {"k":"new 7"}`);
    expect(mismatch?.reason_code, mismatch?.reason).toBe("CHECKSUM_MISMATCH");
    expect(mismatch?.record_key).toBe(`{"k":"key 7"}`);
    expect(mismatch?.reason).toContain(`snapshot row with key {"k":"key 7"}`);
    expect(mismatch?.differing_columns).toBe("{v}"); // text[] as the target prints it
    expect(mismatch?.envelope).toBe(line("key 7", "7", "20007").trimEnd());
    expect((await f.target.query<{ v: string }>(`SELECT v FROM small_1 WHERE k = 'key 7'`)).rows[0]?.v).toBe("7");
    expect(unloadable?.reason_code).toBe("BULK_ROWS_UNREADABLE");
    expect(unloadable?.reason).toMatch(/table public\.small_1, bulk snapshot record at offset \d+: the target cannot load its rows: .*integer/);
    // The ledger: three records quarantined, holding four bad rows (one altered, two unloadable,
    // one forged); the altered record's two good rows and the last record's row applied.
    const s = await waitForSummary(counter, "the faulty records written in the ledger", (x) => x.totals.quarantined === 3);
    expect(s.totals.rows.quarantined).toBe(4);
    expect(s.ok).toBe(false);
    const status = await f.status(counter);
    expect(status.code, status.stdout).toBe(1);
    expect(status.stdout).toMatch(/rows: +emitted [\d,]+, in Kafka [\d,]+, applied [\d,]+, duplicate [\d,]+, quarantined 4\n/);
    expect(status.stdout).toContain("3 record(s) quarantined (4 rows)");
    // Serving (its signal handling installed) before it is asked to stop.
    await pollUntil(async () => ((await consumer.health()) === null ? undefined : true), { timeoutMs: 30_000, what: "the consumer to serve /healthz" });
    expect(await consumer.stop()).toBe(0);
  }, 120_000);
});
