// Each column's value between PostgreSQL's canonical text output (what the checksum covers,
// DESIGN.md "Canonical row checksum") and its Avro field. A typed branch is used only when
// the value comes back as the very same text; anything else (numeric NaN, a float whose text
// this formatter does not reproduce) travels in the field's string branch. So the mapping is
// lossless by construction, and the consumer's in-database checksum proves it again.
import { ZerolossError } from "@zeroloss/errors";
import type { EnvelopeColumn } from "@zeroloss/wire";

// pg_type OIDs of the types with a typed Avro mapping.
const INT2 = 21;
const INT4 = 23;
const INT8 = 20;
const BOOL = 16;
const TEXT = 25;
const VARCHAR = 1043;
const BPCHAR = 1042;
const BYTEA = 17;
const NUMERIC = 1700;
const FLOAT8 = 701;

/** How one column travels in Avro. */
export type ValueKind =
  | { readonly kind: "int" }
  | { readonly kind: "long" }
  | { readonly kind: "boolean" }
  | { readonly kind: "string" }
  | { readonly kind: "bytes" }
  | { readonly kind: "decimal"; readonly precision: number; readonly scale: number }
  | { readonly kind: "double" };

/** numeric(p,s)'s typmod is ((p << 16) | s) + 4; -1 when undeclared. PostgreSQL 15+ allows s < 0 or s > p, which Avro decimal cannot say. */
function numericTypmod(typmod: number): { precision: number; scale: number } | null {
  if (typmod < 4) return null;
  const t = typmod - 4;
  const precision = (t >> 16) & 0xffff;
  const raw = t & 0x7ff;
  const scale = raw & 0x400 ? raw - 0x800 : raw; // 11-bit signed
  return precision >= 1 && scale >= 0 && scale <= precision ? { precision, scale } : null;
}

/** The Avro mapping of a column, from its type OID and typmod (a domain or an array has its own OID: text). */
export function valueKind(c: Pick<EnvelopeColumn, "typeOid" | "typmod">): ValueKind {
  switch (c.typeOid) {
    case INT2:
    case INT4:
      return { kind: "int" };
    case INT8:
      return { kind: "long" };
    case BOOL:
      return { kind: "boolean" };
    case TEXT:
    case VARCHAR:
    case BPCHAR:
      return { kind: "string" };
    case BYTEA:
      return { kind: "bytes" };
    case NUMERIC: {
      const d = numericTypmod(c.typmod);
      return d === null ? { kind: "string" } : { kind: "decimal", ...d };
    }
    case FLOAT8:
      return { kind: "double" };
    default:
      return { kind: "string" };
  }
}

/** The Avro type of a column's field: always nullable (default null); decimal and double keep a string branch for what they cannot hold. */
export function avroFieldType(k: ValueKind): unknown[] {
  switch (k.kind) {
    case "decimal":
      return ["null", { type: "bytes", logicalType: "decimal", precision: k.precision, scale: k.scale }, "string"];
    case "double":
      return ["null", "double", "string"];
    default:
      return ["null", k.kind];
  }
}

/** Two's-complement big-endian bytes of an integer, as few as hold it (Avro decimal). */
function bigintToBytes(n: bigint): Buffer {
  let hex = (n < 0n ? -n : n).toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  let bytes = Buffer.from(hex, "hex");
  if (n >= 0n) return bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
  // Negative: two's complement over one byte more than the magnitude needs, then trimmed.
  const width = bytes.length + 1;
  const v = (1n << BigInt(width * 8)) + n;
  bytes = Buffer.from(v.toString(16).padStart(width * 2, "0"), "hex");
  while (bytes.length > 1 && bytes[0] === 0xff && bytes[1]! & 0x80) bytes = bytes.subarray(1);
  return bytes;
}

function bytesToBigint(b: Buffer): bigint {
  if (b.length === 0) return 0n;
  const v = BigInt(`0x${b.toString("hex")}`);
  return b[0]! & 0x80 ? v - (1n << BigInt(b.length * 8)) : v;
}

/** numeric(p,s) text from an unscaled integer: exactly `scale` fractional digits, as PostgreSQL prints it. */
function decimalText(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  const digits = (neg ? -unscaled : unscaled).toString().padStart(scale + 1, "0");
  const body = scale === 0 ? digits : `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
  return neg ? `-${body}` : body;
}

const DECIMAL_TEXT = /^-?\d+(\.\d+)?$/;

function decimalUnscaled(text: string, scale: number): bigint | null {
  if (!DECIMAL_TEXT.test(text)) return null; // NaN
  const [int = "", frac = ""] = text.replace("-", "").split(".");
  if (frac.length !== scale) return null;
  const v = BigInt(int + frac);
  return text.startsWith("-") ? -v : v;
}

/**
 * float8 text as PostgreSQL prints it with extra_float_digits 1 (the shortest text that
 * reads back exactly): fixed notation for decimal exponents -4..14, else d.ddde±XX.
 */
export function float8Text(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(x.toExponential());
  if (m === null) throw new Error(`float8Text: unexpected ${x.toExponential()}`);
  const [, sign = "", lead = "", rest = "", e = "0"] = m;
  const exp = Number(e);
  const digits = lead + rest;
  if (exp < -4 || exp >= 15) {
    const mant = rest === "" ? lead : `${lead}.${rest}`;
    return `${sign}${mant}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return `${sign}${digits}${"0".repeat(exp + 1 - digits.length)}`;
  return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

export type AvroValue = null | number | bigint | boolean | string | Buffer;

/** Where a value failed, for the error: `schema.table` and the column. */
export interface ValueContext {
  readonly table: string;
  readonly column: string;
}

function mismatch(ctx: ValueContext, kind: string, text: string): ZerolossError {
  return new ZerolossError(
    "AVRO_VALUE_NOT_CANONICAL",
    `table ${ctx.table}, column ${ctx.column}: the value ${JSON.stringify(text.slice(0, 80))} is not the canonical text of its type (${kind}); it cannot travel as Avro ${kind} without changing`,
    { details: { table: ctx.table, column: ctx.column } },
  );
}

/** Text (or null) to the field's value; throws, naming table and column, where a typed-only field cannot carry it exactly. */
export function toAvro(k: ValueKind, text: string | null, ctx: ValueContext): AvroValue {
  if (text === null) return null;
  switch (k.kind) {
    case "string":
      return text;
    case "int": {
      const n = Number(text);
      if (!Number.isInteger(n) || String(n) !== text) throw mismatch(ctx, "int", text);
      return n;
    }
    case "long": {
      if (!/^-?\d+$/.test(text)) throw mismatch(ctx, "long", text);
      const n = BigInt(text);
      if (n.toString() !== text) throw mismatch(ctx, "long", text);
      return n;
    }
    case "boolean":
      if (text === "t") return true;
      if (text === "f") return false;
      throw mismatch(ctx, "boolean", text);
    case "bytes":
      if (!/^\\x([0-9a-f]{2})*$/.test(text)) throw mismatch(ctx, "bytes", text);
      return Buffer.from(text.slice(2), "hex");
    case "decimal": {
      const u = decimalUnscaled(text, k.scale);
      return u === null || decimalText(u, k.scale) !== text ? text : bigintToBytes(u);
    }
    case "double": {
      const x = Number(text);
      return float8Text(x) === text ? x : text;
    }
  }
}

/** The field's value back to PostgreSQL's text; null stays null; a string branch is the text itself. */
export function fromAvro(k: ValueKind, v: unknown, ctx: ValueContext): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return v;
  switch (k.kind) {
    case "int":
      if (typeof v === "number") return String(v);
      break;
    case "long":
      if (typeof v === "bigint") return v.toString();
      break;
    case "boolean":
      if (typeof v === "boolean") return v ? "t" : "f";
      break;
    case "bytes":
      if (Buffer.isBuffer(v)) return `\\x${v.toString("hex")}`;
      break;
    case "decimal":
      if (Buffer.isBuffer(v)) return decimalText(bytesToBigint(v), k.scale);
      break;
    case "double":
      if (typeof v === "number") return float8Text(v);
      break;
    case "string":
      break;
  }
  throw new ZerolossError("AVRO_VALUE_TYPE", `table ${ctx.table}, column ${ctx.column}: an Avro value of type ${typeof v} where the schema says ${k.kind}`, {
    details: { table: ctx.table, column: ctx.column },
  });
}
