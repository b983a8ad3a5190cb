// The text ⇄ Avro value mapping: every value comes back as the same text, typed where the
// mapping allows it. The same edge values go through a real PostgreSQL and a real registry
// in test/avro/edge-values.test.ts; these pin the conversions themselves.
import { describe, expect, it } from "vitest";
import { avroName, envelopeSchema, fieldNames, schemaColumns } from "./schema.js";
import { float8Text, fromAvro, toAvro, valueKind, type ValueKind } from "./values.js";

const ctx = { table: "public.t", column: "c" };
const roundTrip = (k: ValueKind, text: string | null) => fromAvro(k, toAvro(k, text, ctx), ctx);
const numeric = (p: number, s: number) => ({ typeOid: 1700, typmod: ((p << 16) | (s & 0x7ff)) + 4 });

describe("values", () => {
  it("maps types by OID and typmod, text for everything else", () => {
    expect(valueKind({ typeOid: 23, typmod: -1 })).toEqual({ kind: "int" });
    expect(valueKind({ typeOid: 20, typmod: -1 })).toEqual({ kind: "long" });
    expect(valueKind(numeric(18, 4))).toEqual({ kind: "decimal", precision: 18, scale: 4 });
    expect(valueKind({ typeOid: 1700, typmod: -1 })).toEqual({ kind: "string" }); // undeclared precision: any digits, NaN, Infinity
    expect(valueKind(numeric(3, -2))).toEqual({ kind: "string" }); // PostgreSQL 15's negative scale: no Avro decimal
    expect(valueKind({ typeOid: 1184, typmod: -1 })).toEqual({ kind: "string" }); // timestamptz (infinity, BC)
    expect(valueKind({ typeOid: 700, typmod: -1 })).toEqual({ kind: "string" }); // float4
  });

  it("gives back the same text for edge values of every typed mapping", () => {
    const cases: [ValueKind, string[]][] = [
      [{ kind: "int" }, ["-32768", "32767", "0", "-2147483648", "2147483647"]],
      [{ kind: "long" }, ["-9223372036854775808", "9223372036854775807", "9007199254740993", "0"]],
      [{ kind: "boolean" }, ["t", "f"]],
      [{ kind: "bytes" }, ["\\x", "\\x00", `\\x${Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString("hex")}`]],
      [{ kind: "decimal", precision: 18, scale: 4 }, ["1.1000", "0.0000", "-99999999999999.9999", "0.0001", "-0.0001", "NaN"]],
      [{ kind: "decimal", precision: 1000, scale: 0 }, ["9".repeat(1000), `-${"9".repeat(1000)}`, "0", "128", "-128", "255", "-256"]],
      [{ kind: "decimal", precision: 5, scale: 5 }, ["0.12345", "-0.00001"]],
      [{ kind: "double" }, ["NaN", "Infinity", "-Infinity", "-0", "0", "0.1", "1e-310", "5e-324", "1.7976931348623157e+308", "0.30000000000000004", "1e+22", "1e+15", "123456789012345", "0.0001", "1e-05", "-1.5"]],
      [{ kind: "string" }, ["", "😀 e\u0301", "NULL"]],
    ];
    for (const [k, texts] of cases) for (const t of [...texts, null]) expect(roundTrip(k, t), `${k.kind} ${t}`).toBe(t);
  });

  it("uses the typed branch where it holds the value, the string branch where not", () => {
    expect(Buffer.isBuffer(toAvro({ kind: "decimal", precision: 18, scale: 4 }, "12.3456", ctx))).toBe(true);
    expect(toAvro({ kind: "decimal", precision: 18, scale: 4 }, "NaN", ctx)).toBe("NaN");
    expect(toAvro({ kind: "double" }, "0.1", ctx)).toBe(0.1);
    expect(toAvro({ kind: "double" }, "1e+22", ctx)).toBe(1e22);
    expect(toAvro({ kind: "long" }, "9223372036854775807", ctx)).toBe(9223372036854775807n);
  });

  it("refuses, naming table and column, a value a typed-only field cannot carry exactly", () => {
    expect(() => toAvro({ kind: "int" }, "007", ctx)).toThrow(/table public\.t, column c/);
    expect(() => toAvro({ kind: "boolean" }, "true", ctx)).toThrow(expect.objectContaining({ code: "AVRO_VALUE_NOT_CANONICAL" }));
    expect(() => toAvro({ kind: "bytes" }, "\\001", ctx)).toThrow(/bytes/); // bytea_output escape: the pinned setting is hex
  });

  it("prints float8 as PostgreSQL does (extra_float_digits 1)", () => {
    expect([1e15, 1e14, 1.5e-5, 0.00015, -2.5e100, 1 / 3].map(float8Text)).toEqual(["1e+15", "100000000000000", "1.5e-05", "0.00015", "-2.5e+100", "0.3333333333333333"]);
  });
});

describe("schema", () => {
  it("makes valid, unique Avro names of any column names", () => {
    expect(avroName("2024")).toBe("_2024");
    expect(avroName("a b-c")).toBe("a_b_c");
    expect(fieldNames(["a b", "a_b", "a-b", "é"])).toEqual(["a_b", "a_b_2", "a_b_3", "_"]);
  });

  it("carries the column list in the schema and reads it back", () => {
    const columns = [
      { name: "id", type: "bigint", typeOid: 20, typmod: -1, key: true as const },
      { name: "Quoted \"Name\"", type: "numeric(18,4)", typeOid: 1700, typmod: numeric(18, 4).typmod },
      { name: "__proto__", type: "text", typeOid: 25, typmod: -1 },
    ];
    const schema = JSON.parse(JSON.stringify(envelopeSchema("public", "my-table", columns))) as unknown;
    expect(schemaColumns(schema).map((c) => c.column)).toEqual(columns);
    expect(schemaColumns(schema).map((c) => c.kind.kind)).toEqual(["long", "decimal", "string"]);
    expect((schema as { name: string; namespace: string }).namespace).toBe("zeroloss.public.my_table");
  });
});
