// The data record's value: envelope format version 1 (JSON). docs/envelope.md shows real
// examples; the golden fixtures in envelope.test.ts pin the exact bytes.
//
// Values are PostgreSQL's text output. SQL NULL is JSON null; an unchanged TOAST value is
// absent from `after` and named in `unchanged`; an empty string is "". Three different
// things, kept apart all the way to the target.
import { rowChecksum, UNCHANGED, type CellValue } from "@zeroloss/checksum";
import { WireError } from "./errors.js";
import type { BulkRows } from "./bulk.js";

export const ENVELOPE_VERSION = 1;

/** c insert, u update, d delete, r snapshot read, t truncate. */
export type Op = "c" | "u" | "d" | "r" | "t";
const OPS: ReadonlySet<string> = new Set(["c", "u", "d", "r", "t"]);

export interface EnvelopeColumn {
  readonly name: string;
  /** format_type() of the source column: `numeric(18,4)`, `text`, `timestamp with time zone`. */
  readonly type: string;
  readonly typeOid: number;
  readonly typmod: number;
  /** Part of the replica identity (the Kafka key). */
  readonly key?: true;
  /** pg_attribute.attnum, when the producer read it: the same through a RENAME COLUMN. */
  readonly attnum?: number;
  /** Added with a constant default: the value (text) the rows older than the column hold. */
  readonly missing?: string;
}

export interface EnvelopeSource {
  readonly db: string;
  readonly schema: string;
  readonly table: string;
  /** The change's own LSN; for `r`, the slot's consistent point. */
  readonly lsn: string;
  /** The LSN of its transaction's commit record; for `r`, the consistent point. */
  readonly commitLsn: string;
  /** null for snapshot reads. */
  readonly xid: number | null;
  /** ISO-8601 UTC with microseconds; for `r`, when the snapshot chunk was read. */
  readonly commitTime: string;
  /** Position of this record among its transaction's records (or its snapshot chunk's), from 0. */
  readonly seq: number;
}

export type Row = Readonly<Record<string, string | null>>;

export interface Envelope {
  readonly v: 1;
  readonly op: Op;
  readonly source: EnvelopeSource;
  /** The columns the checksum covers, in ordinal order. Empty for `t`. */
  readonly columns: readonly EnvelopeColumn[];
  /** The new row (c, u, r); null for d and t. Unchanged TOAST columns are absent. */
  readonly after: Row | null;
  /** Columns of `after` PostgreSQL did not send because their TOAST value is unchanged (u only). */
  readonly unchanged?: readonly string[];
  /** The old key (d; u when the row's key changed) or the old row under REPLICA IDENTITY FULL. */
  readonly before: Row | null;
  /** For `t`: the partition of the data topic this truncate marker was written to. */
  readonly partition?: number;
  /** Canonical row checksum v1 over `after` (c, u, r) or `before` (d); null for t and bulk records. */
  readonly checksum: string | null;
  /** A bulk snapshot record's rows (op r; then `after`, `before` and `checksum` are null and `partition` is set). */
  readonly rows?: BulkRows;
}


/** The canonical key of a row: its key columns, in ordinal order, as a JSON object of text values. */
export function encodeKey(columns: readonly EnvelopeColumn[], row: Row): string {
  const keys = columns.filter((c) => c.key === true);
  return new RowJson(keys.map((c) => c.name)).of(keys.map((c) => row[c.name] ?? null));
}

/**
 * Rows (and keys) as JSON objects with their members in column order; JSON.stringify of an
 * object would put integer-like names ("2024") first and drop one named "__proto__". The
 * names are serialised once: the producer keeps one per relation for its hot path.
 */
export class RowJson {
  private readonly namesJson: readonly string[];

  constructor(names: readonly string[]) {
    this.namesJson = names.map((n) => JSON.stringify(n));
  }

  /**
   * `values[i]` belongs to column i; `pick` writes only those column indexes, in its order.
   * An unchanged-TOAST marker or undefined leaves its member out.
   */
  of(values: readonly (CellValue | undefined)[], pick?: readonly number[]): string {
    let s = "";
    const n = pick === undefined ? values.length : pick.length;
    for (let j = 0; j < n; j++) {
      const i = pick === undefined ? j : (pick[j] as number);
      const v = values[i];
      if (v === undefined || v === UNCHANGED) continue;
      s += `${s === "" ? "{" : ","}${this.namesJson[i] as string}:${v === null ? "null" : JSON.stringify(v)}`;
    }
    return s === "" ? "{}" : `${s}}`;
  }
}

/** `after` or `before` in column order; null stays null. A member that is no column is an error, never dropped. */
function rowOf(columns: readonly EnvelopeColumn[], row: Row | null): string {
  if (row === null) return "null";
  const names = columns.map((c) => c.name);
  const known = new Set(names);
  for (const name of Object.keys(row)) {
    if (!known.has(name)) throw new WireError("WIRE_MALFORMED", `row member ${JSON.stringify(name)} is not in the column list`);
  }
  return new RowJson(names).of(names.map((name) => (Object.hasOwn(row, name) ? row[name] : undefined)));
}

/** The values a checksum covers for this envelope: `after` (with unchanged markers) or `before`. */
export function checksumInput(env: Pick<Envelope, "op" | "columns" | "after" | "before" | "unchanged">): {
  names: string[];
  values: CellValue[];
} {
  const names: string[] = [];
  const values: CellValue[] = [];
  if (env.op === "d") {
    const before = env.before ?? {};
    for (const c of env.columns) {
      if (Object.hasOwn(before, c.name)) {
        names.push(c.name);
        values.push(before[c.name] ?? null);
      }
    }
    return { names, values };
  }
  const after = env.after ?? {};
  const unchanged = new Set(env.unchanged ?? []);
  for (const c of env.columns) {
    names.push(c.name);
    values.push(unchanged.has(c.name) ? UNCHANGED : (after[c.name] ?? null));
  }
  return { names, values };
}

/** Recomputes an envelope's checksum from its own values. */
export function computeChecksum(env: Pick<Envelope, "op" | "columns" | "after" | "before" | "unchanged" | "rows">): string | null {
  if (env.op === "t" || env.rows !== undefined) return null;
  const { names, values } = checksumInput(env);
  return rowChecksum(names, values);
}

/**
 * The record value. Fields always in this order: v, op, source, columns, after,
 * unchanged (when present), before, partition (when present), checksum; the members of
 * `after` and `before` in column order. The column list is the same for every change of a
 * relation: pass its JSON (JSON.stringify(columns)), computed once, and the hot path skips
 * re-serialising it for every record.
 */
export function encodeEnvelope(env: Envelope, columnsJson: string = JSON.stringify(env.columns)): Buffer {
  let s = `{"v":${env.v},"op":"${env.op}","source":${JSON.stringify(env.source)},"columns":${columnsJson},"after":${rowOf(env.columns, env.after)}`;
  if (env.unchanged !== undefined) s += `,"unchanged":${JSON.stringify(env.unchanged)}`;
  s += `,"before":${rowOf(env.columns, env.before)}`;
  if (env.partition !== undefined) s += `,"partition":${env.partition}`;
  if (env.rows !== undefined) s += `,"rows":{"count":${env.rows.count},"copy":${JSON.stringify(env.rows.copy)}}`;
  s += `,"checksum":${JSON.stringify(env.checksum)}}`;
  return Buffer.from(s, "utf8");
}

function isRow(v: unknown): v is Row {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const row = v as Record<string, unknown>;
  for (const k in row) {
    const x = row[k];
    if (x !== null && typeof x !== "string") return false;
  }
  return true;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new WireError("WIRE_NOT_JSON", `record value is not JSON: ${(err as Error).message}`);
  }
}

function checkColumns(columns: unknown): void {
  if (!Array.isArray(columns)) throw new WireError("WIRE_MALFORMED", "missing field columns");
  for (const c of columns as unknown[]) {
    const col = c as Record<string, unknown>;
    if (typeof col?.["name"] !== "string" || typeof col["type"] !== "string") throw new WireError("WIRE_MALFORMED", "a column lacks name or type");
  }
}

/** Checks a parsed record value (of either encoding); `columnsChecked` when its column list was checked before. */
export function checkEnvelope(parsed: unknown, columnsChecked: boolean): Envelope {
  if (typeof parsed !== "object" || parsed === null) throw new WireError("WIRE_MALFORMED", "record value is not a JSON object");
  const e = parsed as Record<string, unknown>;
  if (e["v"] !== ENVELOPE_VERSION) throw new WireError("WIRE_VERSION", `unknown envelope version ${JSON.stringify(e["v"])}; this build reads version ${ENVELOPE_VERSION}`);
  const op = e["op"];
  if (typeof op !== "string" || !OPS.has(op)) throw new WireError("WIRE_MALFORMED", `unknown op ${JSON.stringify(op)}`);
  const src = e["source"] as Record<string, unknown> | undefined;
  if (typeof src !== "object" || src === null) throw new WireError("WIRE_MALFORMED", "missing field source");
  for (const f of SOURCE_TEXT_FIELDS) {
    if (typeof src[f] !== "string") throw new WireError("WIRE_MALFORMED", `missing field source.${f}`);
  }
  if (typeof src["seq"] !== "number") throw new WireError("WIRE_MALFORMED", "missing field source.seq");
  if (!columnsChecked) checkColumns(e["columns"]);
  if (e["rows"] !== undefined) return checkBulk(e);
  if (e["after"] !== null && !isRow(e["after"])) throw new WireError("WIRE_MALFORMED", "after is not an object of text values");
  if (e["before"] !== null && !isRow(e["before"])) throw new WireError("WIRE_MALFORMED", "before is not an object of text values");
  if ((op === "c" || op === "u" || op === "r") && e["after"] === null) throw new WireError("WIRE_MALFORMED", `op ${op} without after`);
  if (op === "d" && e["before"] === null) throw new WireError("WIRE_MALFORMED", "op d without before");
  if (op !== "t" && typeof e["checksum"] !== "string") throw new WireError("WIRE_MALFORMED", "missing field checksum");
  const env = parsed as Envelope;
  if (op === "c" || op === "u" || op === "r") {
    const after = env.after ?? {};
    const unchanged = env.unchanged ?? [];
    for (const c of env.columns) {
      if (!Object.hasOwn(after, c.name) && !unchanged.includes(c.name)) {
        throw new WireError("WIRE_MALFORMED", `column ${c.name} is neither in after nor unchanged`);
      }
    }
  }
  return env;
}

/** A bulk snapshot record's own rules (the rest of the envelope was checked by checkEnvelope). */
function checkBulk(e: Record<string, unknown>): Envelope {
  const rows = e["rows"] as Record<string, unknown> | null;
  if (e["op"] !== "r") throw new WireError("WIRE_MALFORMED", `rows in a record of op ${JSON.stringify(e["op"])}; only snapshot reads (r) carry rows`);
  if (typeof rows !== "object" || rows === null) throw new WireError("WIRE_MALFORMED", "rows is not an object");
  const count = rows["count"];
  const copy = rows["copy"];
  if (typeof count !== "number" || !Number.isInteger(count) || count < 1) throw new WireError("WIRE_MALFORMED", `rows.count ${JSON.stringify(count)} is not a positive integer`);
  if (typeof copy !== "string" || !copy.endsWith("\n")) throw new WireError("WIRE_MALFORMED", "rows.copy is not COPY text ending with a newline");
  if (e["after"] !== null || e["before"] !== null || e["checksum"] !== null) throw new WireError("WIRE_MALFORMED", "a record with rows has after, before and checksum null");
  if (typeof e["partition"] !== "number") throw new WireError("WIRE_MALFORMED", "a record with rows names its partition");
  return e as unknown as Envelope;
}

const SOURCE_TEXT_FIELDS = ["db", "schema", "table", "lsn", "commitLsn", "commitTime"] as const;

/** Parses and checks a record value; a WireError names what is wrong. */
export function decodeEnvelope(value: Buffer | string | null): Envelope {
  if (value === null) throw new WireError("WIRE_EMPTY", "record has no value");
  return checkEnvelope(parseJson(typeof value === "string" ? value : value.toString("utf8")), false);
}

const COLUMNS_MEMBER = `,"columns":`;

function parseOrNull(text: string): Record<string, unknown> | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null; // the caller parses the original text, whose error names the right position
  }
  return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : null;
}
const MAX_KNOWN_COLUMN_LISTS = 256;

function deepFreeze<T>(columns: T[]): readonly T[] {
  for (const c of columns) Object.freeze(c);
  return Object.freeze(columns);
}

/** What the consumer reads records with: EnvelopeDecoder (JSON), or @zeroloss/avro's EnvelopeReader (both encodings). */
export interface EnvelopeReading {
  decode(value: Buffer | string | null): Envelope;
  /** JSON.stringify(env.columns), without serialising a shared column list again. */
  columnsJson(env: Envelope): string;
}

/**
 * decodeEnvelope for a stream of records. The column list is the same for every change of a
 * relation and about half of a small row's envelope: each distinct text of it is parsed
 * once, and the envelopes that carry that exact text share one frozen array. The rest of the
 * record is parsed and checked as decodeEnvelope does; a record whose text differs in any
 * way (another encoder's spacing, a second "columns" member anywhere) is parsed whole.
 */
export class EnvelopeDecoder implements EnvelopeReading {
  private readonly known: { readonly text: string; readonly columns: readonly EnvelopeColumn[] }[] = [];
  private readonly texts = new WeakMap<readonly EnvelopeColumn[], string>();

  decode(value: Buffer | string | null): Envelope {
    if (value === null) throw new WireError("WIRE_EMPTY", "record has no value");
    const s = typeof value === "string" ? value : value.toString("utf8");
    const at = s.indexOf(COLUMNS_MEMBER);
    const from = at + COLUMNS_MEMBER.length;
    if (at > 0) {
      const k = this.known.find((x) => s.startsWith(x.text, from));
      const to = k === undefined ? -1 : from + k.text.length;
      if (k !== undefined && s.indexOf(`"columns":`, to) === -1) {
        // The member's value replaced by 0 (no column list is 0): seeing it back proves it was
        // the top-level member. Text that does not parse is parsed whole below, for its error.
        const parsed = parseOrNull(`${s.slice(0, from)}0${s.slice(to)}`);
        if (parsed !== null && parsed["columns"] === 0) {
          parsed["columns"] = k.columns;
          return checkEnvelope(parsed, true);
        }
      }
    }
    const env = checkEnvelope(parseJson(s), false);
    if (at > 0 && this.known.length < MAX_KNOWN_COLUMN_LISTS) {
      const text = JSON.stringify(env.columns);
      if (s.startsWith(text, from)) {
        const columns = deepFreeze([...env.columns]);
        this.known.push({ text, columns });
        this.texts.set(columns, text);
        return { ...env, columns };
      }
    }
    return env;
  }

  /** JSON.stringify(env.columns), without serialising a shared column list again. */
  columnsJson(env: Envelope): string {
    return this.texts.get(env.columns) ?? JSON.stringify(env.columns);
  }
}
