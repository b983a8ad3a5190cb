// Records that must never reach a target table: a valid envelope whose value was altered
// after the producer checksummed it (the target database's recomputed checksum differs),
// bytes that are no envelope at all, an Avro-framed value whose schema id the registry does
// not know, and an envelope under another row's key. Each is
// quarantined with its reason, sent to the DLQ and counted, and consumption goes on.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { pollUntil } from "@zeroloss/devstack";
import { readToEnd } from "@zeroloss/kafka";
import { decodeDlqRecord, decodeTally, topicNames, type DlqRecord } from "@zeroloss/wire";
import { pipelineFixture, sourceClient, waitForEqual, type PipelineFixture, type TableSpec } from "./harness.js";

const ACCOUNTS: TableSpec = { name: "public.accounts", columns: ["id", "owner", "balance"], key: ["id"] };

describe("consumer: tampered, poison and mismatched records", () => {
  let f: PipelineFixture;
  let src: pg.Client;

  beforeAll(async () => {
    f = await pipelineFixture(inject("stack"), "bad", { kafka: { registry: { url: inject("stack").registry } } });
    src = await sourceClient(f);
    await src.query(`CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance numeric(18,4))`);
    await src.query(`INSERT INTO accounts SELECT i, 'owner ' || i, i * 10 FROM generate_series(1, 100) i`);
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
  });

  it("quarantines each with its reason, names the altered column, leaves the target unchanged and keeps consuming", async () => {
    const producer = await f.start();
    const consumer = await f.startConsumer();
    await waitForEqual(f, src, [ACCOUNTS], [producer, consumer]);
    const topics = topicNames(f.prefix);
    const dataTopic = topics.data("public", "accounts");
    const original = (await f.records("public.accounts")).find((r) => r.envelope.after?.["id"] === "5");
    expect(original).toBeDefined();
    const { envelope, key, partition } = original as NonNullable<typeof original>;

    const tampered = { ...envelope, after: { ...envelope.after, balance: "999999.0000" } };
    const otherKey = (await f.records("public.accounts")).find((r) => r.envelope.after?.["id"] === "6");
    const send = f.kafka.producer({ allowAutoTopicCreation: false });
    await send.connect();
    await send.send({
      topic: dataTopic,
      acks: -1,
      messages: [
        { key, value: JSON.stringify(tampered), partition },
        { key: "garbage", value: Buffer.from([0x6e, 0x6f, 0x74, 0x00, 0xff, 0x7b]), partition: 0 },
        { key: "avro", value: Buffer.from([0x00, 0x7f, 0xff, 0xff, 0xf0, 0x02, 0x02]), partition: 0 }, // schema id 2147483632: unknown
        { key: otherKey?.key ?? null, value: JSON.stringify(envelope), partition: otherKey?.partition ?? 0 },
      ],
    });
    await send.disconnect();
    // Consumption goes on past them.
    await src.query(`INSERT INTO accounts VALUES (1000, 'after the bad records', 1)`);
    await src.query(`UPDATE accounts SET owner = 'changed later' WHERE id = 6`);
    await waitForEqual(f, src, [ACCOUNTS], [producer, consumer]);

    const rows = await pollUntil(
      async () => {
        const r = await f.target.query<{ reason_code: string; reason: string; table_name: string | null; differing_columns: string | null; expected_checksum: string | null; computed_checksum: string | null; partition: string }>(
          `SELECT reason_code, reason, table_name, differing_columns::text, expected_checksum, computed_checksum, partition FROM zeroloss.quarantine ORDER BY reason_code`,
        );
        return r.rows.length >= 4 ? r.rows : undefined;
      },
      { timeoutMs: 30_000, what: "4 quarantine rows" },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; consumer output:\n${consumer.output().slice(-3000)}`);
    }
    );
    expect(rows.map((r) => r.reason_code)).toEqual(["CHECKSUM_MISMATCH", "WIRE_AVRO_SCHEMA", "WIRE_KEY_MISMATCH", "WIRE_NOT_JSON"]);
    const [mismatch, avro, keyMismatch, notJson] = rows as [(typeof rows)[0], (typeof rows)[0], (typeof rows)[0], (typeof rows)[0]];
    expect(avro.reason).toMatch(/schema \(id 2147483632\) cannot be read/);
    expect(mismatch.differing_columns).toBe("{balance}");
    expect(mismatch.table_name).toBe("public.accounts");
    expect(mismatch.expected_checksum).toBe(envelope.checksum);
    expect(mismatch.computed_checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(mismatch.computed_checksum).not.toBe(envelope.checksum);
    expect(mismatch.reason).toContain("balance");
    expect(keyMismatch.reason).toContain(`{"id":"5"}`);
    expect(notJson.table_name).toBeNull();

    // The target row of the tampered record still holds the source's value.
    const row5 = await f.target.query<{ balance: string }>(`SELECT balance FROM accounts WHERE id = 5`);
    expect(row5.rows[0]?.balance).toBe("50.0000");

    // DLQ: one record per quarantined record, with its reason code.
    const dlq = await pollUntil(
      async () => {
        const out: DlqRecord[] = [];
        await readToEnd(f.kafka, topics.dlq, (r) => out.push(decodeDlqRecord(r.value)));
        return out.length >= 4 ? out : undefined;
      },
      { timeoutMs: 30_000, what: "4 DLQ records" },
    );
    expect(dlq.map((d) => d.code).sort()).toEqual(["CHECKSUM_MISMATCH", "WIRE_AVRO_SCHEMA", "WIRE_KEY_MISMATCH", "WIRE_NOT_JSON"]);
    // The DLQ record carries what the quarantine row holds.
    const dlqMismatch = dlq.find((d) => d.code === "CHECKSUM_MISMATCH");
    expect(dlqMismatch).toMatchObject({ table: "public.accounts", expectedChecksum: envelope.checksum, computedChecksum: mismatch.computed_checksum, differingColumns: ["balance"] });

    // Counted: metrics and the written tallies.
    expect(await consumer.metric("zeroloss_consumer_checksum_mismatches_total")).toBe(1);
    expect(await consumer.metric("zeroloss_consumer_malformed_records_total")).toBe(3);
    const quarantinedInTallies = await pollUntil(
      async () => {
        let n = 0;
        await readToEnd(f.kafka, topics.tallies, (r) => {
          const t = decodeTally(r.value);
          if (t.stage === "written") n += t.detail?.["quarantined"] ?? 0;
        });
        return n >= 4 ? n : undefined;
      },
      { timeoutMs: 30_000, what: "written tallies counting 4 quarantined records" },
    );
    expect(quarantinedInTallies).toBe(4);
    expect((await consumer.health())?.status).toBe(200);
  });
});
