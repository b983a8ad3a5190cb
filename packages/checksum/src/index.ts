// The canonical row checksum, version 1 (DESIGN.md, "Canonical row checksum"). One
// definition, two implementations that must agree byte for byte:
//   - rowChecksum(): TypeScript, over a decoded tuple (the producer, where a change is read);
//   - checksumSql(): a SQL expression the target database evaluates over its stored row
//     (the consumer) and each database evaluates over its own table (the verifier).
//
// Encoding fed to SHA-256 (hex output):
//   "zl1"                                  format tag, so a later version can never collide
//   per column, in the column list's order:
//     u32be(byte length of name) name      UTF-8
//     'n'                                  SQL NULL
//     'u'                                  unchanged TOAST value (not sent by PostgreSQL)
//     'v' u32be(byte length) value         the value's PostgreSQL text output, UTF-8
// Length prefixes make the encoding unambiguous: no two different rows encode alike.
import { hash } from "node:crypto";

export { quoteIdent, quoteLiteral, quoteReplicationLiteral } from "./sql-quote.js";

/** The marker for a column whose value PostgreSQL did not send because it was unchanged (TOAST). */
export const UNCHANGED: unique symbol = Symbol.for("zeroloss.unchanged-toast");
export type Unchanged = typeof UNCHANGED;

/** A column's value as PostgreSQL's text output; null is SQL NULL. */
export type CellValue = string | null | Unchanged;

export const CHECKSUM_VERSION = 1;

const TAG = Buffer.from("zl1", "ascii");
const NULL_MARK = Buffer.from("n", "ascii");
const UNCHANGED_MARK = Buffer.from("u", "ascii");
const VALUE_MARK = 0x76; // 'v'
const NULL_BYTE = 0x6e; // 'n'
const UNCHANGED_BYTE = 0x75; // 'u'

const KEPT_SCRATCH_BYTES = 1024 * 1024;

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n, 0);
  return b;
}

/** The constant bytes a column name contributes: u32be(length) + UTF-8 name. */
export function encodedName(name: string): Buffer {
  const bytes = Buffer.from(name, "utf8");
  return Buffer.concat([u32(bytes.length), bytes]);
}

/**
 * SHA-256 hex of the canonical encoding. `names[i]` and `values[i]` describe the same
 * column; callers pass columns in ordinal order.
 */
export function rowChecksum(names: readonly string[], values: readonly CellValue[]): string {
  return new RowChecksummer(names).checksum(values);
}

/**
 * rowChecksum() for many rows of one column list: the names are encoded once, and each row
 * is encoded into a reused buffer. The producer keeps one per relation.
 */
export class RowChecksummer {
  private readonly prefixes: readonly Buffer[];
  /** Shared by every instance: rows are encoded and hashed synchronously, one at a time. */
  private static scratch: Buffer = Buffer.allocUnsafe(64 * 1024);

  constructor(readonly names: readonly string[]) {
    this.prefixes = names.map(encodedName);
  }

  checksum(values: readonly CellValue[]): string {
    const { prefixes } = this;
    if (values.length !== prefixes.length) {
      throw new RangeError(`rowChecksum: ${prefixes.length} column names but ${values.length} values`);
    }
    let buf: Buffer = RowChecksummer.scratch;
    let at = TAG.copy(buf, 0);
    for (let i = 0; i < prefixes.length; i++) {
      const prefix = prefixes[i] as Buffer;
      const value = values[i];
      // At most 3 UTF-8 bytes per UTF-16 unit: checked before writing, as write() truncates.
      const need = prefix.length + 5 + (typeof value === "string" ? value.length * 3 : 0);
      if (at + need > buf.length) buf = RowChecksummer.grow(at, at + need);
      at += prefix.copy(buf, at);
      if (value === null) {
        buf[at++] = NULL_BYTE;
      } else if (value === UNCHANGED) {
        buf[at++] = UNCHANGED_BYTE;
      } else {
        buf[at] = VALUE_MARK;
        const len = buf.write(value as string, at + 5, "utf8");
        buf.writeUInt32BE(len, at + 1);
        at += 5 + len;
      }
    }
    const sum = hash("sha256", buf.subarray(0, at), "hex");
    if (buf.length > KEPT_SCRATCH_BYTES) RowChecksummer.scratch = Buffer.allocUnsafe(64 * 1024); // a huge row's buffer is not kept
    return sum;
  }

  private static grow(used: number, needed: number): Buffer {
    const next = Buffer.allocUnsafe(Math.max(needed, RowChecksummer.scratch.length * 2));
    RowChecksummer.scratch.copy(next, 0, 0, used);
    RowChecksummer.scratch = next;
    return next;
  }
}

/** One column of a SQL checksum expression. */
export interface SqlChecksumColumn {
  /** The column's name as it appears in the canonical encoding (the source's name). */
  readonly name: string;
  /**
   * A SQL expression of type text giving the value's text output, identifiers already
   * quoted by the caller. Build it with textOutputSql(`t."amount"`): a plain `::text` cast
   * differs from the text output for boolean, inet, character(n) and domains over them.
   */
  readonly textSql: string;
  /** Optional SQL boolean: true when the value is the unchanged-TOAST marker (staging rows). */
  readonly unchangedSql?: string;
  /**
   * Optional SQL boolean: true when the column is not part of this row's encoding at all (a
   * delete's `before` that holds only the key columns; see checksumInput in packages/wire).
   */
  readonly absentSql?: string;
}

function byteaLiteral(bytes: Buffer): string {
  return `'\\x${bytes.toString("hex")}'::bytea`;
}

/**
 * A SQL expression of type text: lower-case hex SHA-256 of the canonical encoding, equal
 * to rowChecksum() over the same values. Requires PostgreSQL 11+ (sha256()).
 */
export function checksumSql(columns: readonly SqlChecksumColumn[]): string {
  const parts: string[] = [byteaLiteral(TAG)];
  for (const col of columns) {
    const bytesOf = `convert_to(${col.textSql}, 'UTF8')`;
    const value =
      `CASE` +
      (col.unchangedSql === undefined ? "" : ` WHEN ${col.unchangedSql} THEN ${byteaLiteral(UNCHANGED_MARK)}`) +
      ` WHEN (${col.textSql}) IS NULL THEN ${byteaLiteral(NULL_MARK)}` +
      ` ELSE '\\x76'::bytea || int4send(octet_length(${bytesOf})) || ${bytesOf} END`;
    const part = `${byteaLiteral(encodedName(col.name))} || ${value}`;
    parts.push(col.absentSql === undefined ? part : `CASE WHEN ${col.absentSql} THEN '\\x'::bytea ELSE ${part} END`);
  }
  return `encode(sha256(${parts.join(" || ")}), 'hex')`;
}


/**
 * The SQL text output of a column: exactly what PostgreSQL's type output function (and so
 * pgoutput, and a pinned connection's query result) produces for it.
 *
 * Not `::text`. A cast to text is the output function only where PostgreSQL has no cast
 * function of its own (pg_cast with casttarget text and castmethod 'f'), and several
 * built-in types have one that prints something else:
 *   boolean        true::text = 'true'            output: 't'
 *   inet           '10.1.2.3'::inet::text = '10.1.2.3/32'   output: '10.1.2.3'
 *   character(n)   'ab'::char(5)::text = 'ab'     output: 'ab   ' (the padding is kept)
 *   (and cidr, "char", name, which happen to print alike today.)
 * The cast also follows the base type of a domain, so a domain over boolean or character(n)
 * went wrong even when its format_type() name gave no hint (found by
 * test/checksum/sql-equals-ts.test.ts: boolean, inet, a domain over boolean and a domain
 * over character(5) all disagreed with rowChecksum()). So no type-name list can be right:
 * format('%s', v) calls the value's own output function for every type (domains, enums,
 * composites, ranges and arrays included). It is not slower than the cast (sha256 over 1M
 * rows of four columns, PostgreSQL 15: 1.76 s with format, 1.80 s with ::text); the
 * num_nulls() CASE below adds about 0.05 µs per value.
 *
 * format('%s', NULL) is '' and must stay NULL. The NULL test is num_nulls(), which looks at
 * the datum: `v IS NULL` is also true for a composite whose fields are all NULL, whose text
 * output is "(,)", not NULL.
 *
 * `sqlType` (format_type() of the column) is no longer needed for correctness; it stays in
 * the signature so callers need not change.
 */
export function textOutputSql(columnSql: string, _sqlType?: string): string {
  return `CASE WHEN num_nulls(${columnSql}) = 1 THEN NULL ELSE format('%s', ${columnSql}) END`;
}
