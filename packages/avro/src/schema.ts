// The Avro schema of a data topic's envelope (docs/envelope.md, "Avro"), generated from the
// relation's columns, and the columns read back from a writer schema. The envelope's
// metadata fields are those of the JSON envelope; the column list becomes the `Row`
// record's fields, each carrying its PostgreSQL name, type, OID, typmod and key flag as
// attributes ("pg.*"; pg.missing for a column added with a constant default), so a reader with only the schema id rebuilds the same column list.
import { ZerolossError } from "@zeroloss/errors";
import type { EnvelopeColumn } from "@zeroloss/wire";
import { avroFieldType, valueKind, type ValueKind } from "./values.js";

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** An Avro name for any identifier: invalid characters become _, a leading digit gets a _ before it. */
export function avroName(id: string): string {
  const s = id.replace(/[^A-Za-z0-9_]/g, "_");
  return NAME.test(s) ? s : `_${s}`;
}

/** Field names for column names: avroName, made unique with _2, _3… in column order. */
export function fieldNames(columns: readonly string[]): string[] {
  const used = new Set<string>();
  return columns.map((c) => {
    const base = avroName(c);
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  });
}

export interface AvroField {
  readonly name: string;
  readonly type: unknown;
  readonly default?: unknown;
  readonly [attr: string]: unknown;
}

export interface AvroRecordSchema {
  readonly type: "record";
  readonly name: string;
  readonly namespace: string;
  readonly fields: readonly AvroField[];
}

/** The envelope schema of one table: `zeroloss.<schema>.<table>.Envelope`. */
export function envelopeSchema(schema: string, table: string, columns: readonly EnvelopeColumn[]): AvroRecordSchema {
  const names = fieldNames(columns.map((c) => c.name));
  const row: AvroRecordSchema = {
    type: "record",
    name: "Row",
    namespace: `zeroloss.${avroName(schema)}.${avroName(table)}`,
    fields: columns.map((c, i) => ({
      name: names[i]!,
      type: avroFieldType(valueKind(c)),
      default: null,
      "pg.name": c.name,
      "pg.type": c.type,
      "pg.oid": c.typeOid,
      "pg.typmod": c.typmod,
      ...(c.key === true ? { "pg.key": true } : {}),
      ...(c.attnum === undefined ? {} : { "pg.attnum": c.attnum }),
      ...(c.missing === undefined ? {} : { "pg.missing": c.missing }),
    })),
  };
  const arrayOf = (items: string) => ({ type: "array", items });
  return {
    type: "record",
    name: "Envelope",
    namespace: row.namespace,
    fields: [
      { name: "v", type: "int" },
      { name: "op", type: { type: "enum", name: "Op", namespace: "zeroloss", symbols: ["c", "u", "d", "r", "t"] } },
      {
        name: "source",
        type: {
          type: "record",
          name: "Source",
          namespace: "zeroloss",
          fields: [
            { name: "db", type: "string" },
            { name: "schema", type: "string" },
            { name: "table", type: "string" },
            { name: "lsn", type: "string" },
            { name: "commitLsn", type: "string" },
            { name: "xid", type: ["null", "long"], default: null },
            { name: "commitTime", type: "string" },
            { name: "seq", type: "int" },
          ],
        },
      },
      { name: "after", type: ["null", row], default: null },
      // PostgreSQL names of `after`'s columns whose TOAST value is unchanged (their field is null).
      { name: "unchanged", type: arrayOf("string"), default: [] },
      { name: "before", type: ["null", "Row"], default: null },
      // PostgreSQL names of the columns `before` holds (the old key, or all under REPLICA IDENTITY FULL).
      { name: "beforeColumns", type: arrayOf("string"), default: [] },
      { name: "partition", type: ["null", "int"], default: null },
      { name: "checksum", type: ["null", "string"], default: null },
      // A bulk snapshot record's rows (docs/envelope.md): COPY text lines of key, checksum and values.
      {
        name: "rows",
        type: ["null", { type: "record", name: "BulkRows", namespace: "zeroloss", fields: [{ name: "count", type: "int" }, { name: "copy", type: "string" }] }],
        default: null,
      },
    ],
  };
}

/** A column of a writer schema, with its Avro field name and value mapping. */
export interface SchemaColumn {
  readonly column: EnvelopeColumn;
  readonly field: string;
  readonly kind: ValueKind;
}

function bad(what: string): ZerolossError {
  return new ZerolossError("AVRO_SCHEMA_UNKNOWN", `the writer schema is not a zeroloss envelope schema: ${what}`);
}

/** The value mapping a writer used, read from its field type (not re-derived from the column: a later build may map differently). */
function kindOfField(field: string, type: unknown): ValueKind {
  const branches = Array.isArray(type) ? (type as unknown[]).filter((t) => t !== "null" && t !== "string") : [];
  if (branches.length === 0) return { kind: "string" };
  const t = branches[0];
  if (branches.length === 1 && typeof t === "string" && ["int", "long", "boolean", "bytes", "double"].includes(t)) return { kind: t } as ValueKind;
  const d = t as { type?: unknown; logicalType?: unknown; precision?: unknown; scale?: unknown };
  if (branches.length === 1 && d.type === "bytes" && d.logicalType === "decimal" && typeof d.precision === "number" && typeof d.scale === "number") {
    return { kind: "decimal", precision: d.precision, scale: d.scale };
  }
  throw bad(`Row field ${field} has the type ${JSON.stringify(type)}, which this build does not read`);
}

/** The columns of a writer schema (parsed JSON), from its Row fields' pg.* attributes. */
export function schemaColumns(schema: unknown): SchemaColumn[] {
  const fields = (schema as { fields?: unknown })?.fields;
  if (!Array.isArray(fields)) throw bad("no fields");
  const after = fields.find((f: { name?: unknown }) => f?.name === "after") as { type?: unknown } | undefined;
  const row = Array.isArray(after?.type) ? (after.type as unknown[]).find((t) => (t as { type?: unknown })?.type === "record") : undefined;
  const rowFields = (row as { fields?: unknown } | undefined)?.fields;
  if (!Array.isArray(rowFields)) throw bad("no Row record in field after");
  return rowFields.map((f: Record<string, unknown>) => {
    const name = f["pg.name"];
    const type = f["pg.type"];
    const typeOid = f["pg.oid"];
    const typmod = f["pg.typmod"];
    if (typeof f["name"] !== "string" || typeof name !== "string" || typeof type !== "string" || typeof typeOid !== "number" || typeof typmod !== "number") {
      throw bad(`Row field ${JSON.stringify(f["name"])} lacks pg.name, pg.type, pg.oid or pg.typmod`);
    }
    const missing = f["pg.missing"];
    const attnum = f["pg.attnum"];
    const column: EnvelopeColumn = {
      name,
      type,
      typeOid,
      typmod,
      ...(f["pg.key"] === true ? { key: true as const } : {}),
      ...(typeof attnum === "number" ? { attnum } : {}),
      ...(typeof missing === "string" ? { missing } : {}),
    };
    return { column, field: f["name"], kind: kindOfField(f["name"], f["type"]) };
  });
}
