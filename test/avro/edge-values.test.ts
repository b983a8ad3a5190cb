// Every supported type's edge values (test/setup/edge-values.ts: NaN and ±Infinity
// numerics and floats, 1000-digit numerics, infinite and BC timestamps, intervals, all bytes
// in bytea, emoji and combining characters, json with duplicate keys, arrays with NULLs,
// ranges, enums, domains) through the whole pipeline in both encodings: snapshot and stream
// → target equal by content, checksum for checksum, nothing quarantined. With Avro, through
// the real registry of the shared stack: one subject for the table, one version (the
// snapshot's schema and the stream's are the same), typed fields where the mapping allows.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { quoteIdent } from "@zeroloss/checksum";
import { readToEnd } from "@zeroloss/kafka";
import { schemaIdOf } from "@zeroloss/avro";
import { topicNames } from "@zeroloss/wire";
import { pipelineFixture, sourceClient, waitForEqual, type PipelineFixture, type TableSpec } from "../consumer/harness.js";
import { createEdgeTypes, EDGE_ROWS, EDGE_SPECS, edgeRowSql, edgeTableSql } from "../setup/edge-values.js";

const stack = inject("stack");
const EDGE: TableSpec = { name: "public.edge", columns: EDGE_SPECS.map((s) => s.name), key: ["row_no"] };

describe.each(["json", "avro"] as const)("every type's edge values through the %s encoding", (encoding) => {
  let f: PipelineFixture;
  let src: pg.Client;

  beforeAll(async () => {
    f = await pipelineFixture(stack, `edge_${encoding}`, { kafka: { encoding, registry: { url: stack.registry } } });
    src = await sourceClient(f);
    await createEdgeTypes(src);
    await createEdgeTypes(f.target); // the consumer creates the table; its column types must exist
    await src.query(edgeTableSql("edge", true));
    for (let i = 0; i < EDGE_ROWS; i++) await src.query(edgeRowSql("edge", i));
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
  });

  it("snapshot and stream arrive equal by content, checksum for checksum", async () => {
    const producer = await f.start();
    const consumer = await f.startConsumer();
    await waitForEqual(f, src, [EDGE], [producer, consumer]);

    // Streamed: every edge row again under another key, a row of NULLs, updates and deletes.
    const copy = EDGE.columns.map((c) => (c === "row_no" ? "row_no + 1000" : quoteIdent(c))).join(", ");
    await src.query(`INSERT INTO edge SELECT ${copy} FROM edge`);
    await src.query(`INSERT INTO edge (row_no) VALUES (5000)`);
    await src.query(`UPDATE edge SET c_text = c_text || ' ✓', c_numeric = -c_numeric, c_float8 = -c_float8 WHERE row_no % 2 = 0`);
    await src.query(`DELETE FROM edge WHERE row_no IN (1, 1003)`);
    await waitForEqual(f, src, [EDGE], [producer, consumer]);
    const quarantine = await f.target.query<{ n: string }>(`SELECT count(*) AS n FROM zeroloss.quarantine`);
    expect(quarantine.rows[0]?.n).toBe("0");
    await producer.stop();
    expect(await consumer.stop()).toBe(0);

    const topic = topicNames(f.prefix).data("public", "edge");
    const values: Buffer[] = [];
    await readToEnd(f.kafka, topic, (r) => {
      if (r.value !== null) values.push(r.value);
    });
    expect(values.length).toBeGreaterThan(EDGE_ROWS * 2);
    const ids = new Set(values.map((v) => schemaIdOf(v)));
    if (encoding === "json") {
      expect([...ids]).toEqual([null]); // every value a JSON envelope
      return;
    }
    expect(ids.has(null)).toBe(false); // every value in the registry's framing
    const subject = `${topic}-value`;
    const registry = stack.registry;
    expect(await (await fetch(`${registry}/subjects/${encodeURIComponent(subject)}/versions`)).json()).toEqual([1]);
    const latest = (await (await fetch(`${registry}/subjects/${encodeURIComponent(subject)}/versions/latest`)).json()) as { id: number; schema: string };
    expect([...ids]).toEqual([latest.id]);
    const row = (JSON.parse(latest.schema) as { fields: { name: string; type: unknown }[] }).fields.find((x) => x.name === "after")?.type as unknown[];
    const fields = new Map((row[1] as { fields: { name: string; type: unknown }[] }).fields.map((x) => [x.name, x.type]));
    expect(fields.get("c_int2")).toEqual(["null", "int"]);
    expect(fields.get("c_int8")).toEqual(["null", "long"]);
    expect(fields.get("c_bool")).toEqual(["null", "boolean"]);
    expect(fields.get("c_bytea")).toEqual(["null", "bytes"]);
    expect(fields.get("c_numeric_18_4")).toEqual(["null", { type: "bytes", logicalType: "decimal", precision: 18, scale: 4 }, "string"]);
    expect(fields.get("c_float8")).toEqual(["null", "double", "string"]);
    expect(fields.get("c_timestamptz")).toEqual(["null", "string"]); // infinity and BC have no Avro timestamp
    expect(fields.get("Quoted__Name__col")).toEqual(["null", "string"]);
  });
});
