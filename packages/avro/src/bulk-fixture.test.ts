// The Avro form of a bulk snapshot record, golden: the envelope schema of the JSON fixture's
// table (fixtures/snapshot-bulk.avsc.json) and that record encoded under schema id 1, byte
// for byte (fixtures/snapshot-bulk.avro.hex: the registry's framing, then the Avro body).
// Decoding it gives the JSON fixture's envelope back, its COPY text untouched. The fixtures
// are read from the source folders (packages/wire holds the JSON one).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeEnvelope } from "@zeroloss/wire";
import { AvroWriter, avroReader, avroType, decodeAvro, schemaIdOf } from "./codec.js";
import { envelopeSchema, schemaColumns } from "./schema.js";

const json = readFileSync(join(import.meta.dirname, "../../wire/src/fixtures/snapshot-bulk.json"));
const schemaFixture = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures/snapshot-bulk.avsc.json"), "utf8")) as object;
const bytesFixture = Buffer.from(readFileSync(join(import.meta.dirname, "fixtures/snapshot-bulk.avro.hex"), "utf8").trim(), "hex");

describe("bulk snapshot record in Avro (golden)", () => {
  const env = decodeEnvelope(json);
  const schema = envelopeSchema(env.source.schema, env.source.table, env.columns);

  it("has the fixture's envelope schema, rows a nullable BulkRows {count, copy}", () => {
    expect(schema).toEqual(schemaFixture);
    expect(schema.fields.at(-1)).toMatchObject({ name: "rows", default: null });
  });

  it("encodes to exactly the fixture's bytes under schema id 1", () => {
    const writer = new AvroWriter(1, "zeroloss.public.accounts-value", avroType(schema), "public.accounts", schemaColumns(schema));
    const bytes = writer.encode(env);
    expect(schemaIdOf(bytes)).toBe(1);
    expect(bytes.toString("hex")).toBe(bytesFixture.toString("hex"));
  });

  it("decodes the fixture's bytes to the JSON fixture's envelope, rows and all", () => {
    const back = decodeAvro(avroReader(avroType(schemaFixture), schemaFixture), bytesFixture);
    expect(back).toEqual(env);
    expect(back.rows?.count).toBe(2);
    expect(back.rows?.copy).toBe(env.rows?.copy);
  });
});
