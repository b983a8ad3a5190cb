// The Avro encoding of envelopes through a Confluent-compatible schema registry
// (@kafkajs/confluent-schema-registry): one subject per data topic (`<topic>-value`), each
// version registered under BACKWARD compatibility, records framed as Confluent's wire
// format (magic byte 0, the schema id as 4 bytes big-endian, the Avro body).
//
// Registering and fetching schemas are asynchronous; encoding and decoding are not, so the
// producer's and consumer's hot paths stay synchronous: a writer is made once per relation
// version, and a reader loads the schemas of a batch's records before decoding them.
import { COMPATIBILITY, SchemaRegistry, SchemaType } from "@kafkajs/confluent-schema-registry";
import type http from "node:http";
import avsc from "avsc";
import { tlsFailure, ZerolossError } from "@zeroloss/errors";
import { checkEnvelope, WireError, type Envelope, type EnvelopeColumn, type EnvelopeSource, type Op, type Row } from "@zeroloss/wire";
import { envelopeSchema, schemaColumns, type SchemaColumn } from "./schema.js";
import { fromAvro, toAvro } from "./values.js";
import { registryAgent, registryAuth, registryGet, type RegistryConnection } from "./registry-http.js";

/** Confluent's framing: magic byte 0, then the schema id. A JSON envelope starts with `{`. */
const MAGIC = 0;
const HEADER = 5;

/** The schema id of a Confluent-framed value, or null when the value is not one. */
export function schemaIdOf(value: Buffer): number | null {
  return value.length >= HEADER && value[0] === MAGIC ? value.readUInt32BE(1) : null;
}

/** Avro long as BigInt: int8 values beyond 2^53 would lose digits as JS numbers. */
const LongAsBigInt = avsc.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(n);
    return buf;
  },
  fromJSON: (x: unknown) => BigInt(x as string | number),
  toJSON: (n: bigint) => Number(n),
  isValid: (n: unknown) => typeof n === "bigint",
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

export interface AvroType {
  toBuffer(payload: object): Buffer;
  fromBuffer(buffer: Buffer): unknown;
}

/** The Avro body of an envelope (field names of schema.ts). */
interface Payload {
  v: number;
  op: Op;
  source: Omit<EnvelopeSource, "xid"> & { xid: bigint | null };
  after: Record<string, unknown> | null;
  unchanged: string[];
  before: Record<string, unknown> | null;
  beforeColumns: string[];
  partition: number | null;
  checksum: string | null;
  /** Absent from writer schemas before 2026-12. */
  rows?: { count: number; copy: string } | null;
}

const NETWORK = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|socket hang up|fetch failed/i;

/** A URL as errors name it: user and password (basic auth in the URL) left out. */
function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.toString().replace(/\/$/, "");
  } catch {
    return "(the registry URL)";
  }
}

/**
 * A failure talking to the registry. Retriable when the registry could not be reached or
 * failed (5xx); not when it answered with a verdict (409 incompatible, other 4xx) or the
 * schema itself failed. The client reports a refused connection as a status 400 whose
 * message names the socket error, so the message is checked first.
 */
function registryError(err: unknown, registryUrl: string, doing: string, details: Record<string, unknown> = {}): ZerolossError {
  if (err instanceof ZerolossError) return err;
  const url = withoutCredentials(registryUrl);
  const tls = tlsFailure(err);
  if (tls !== null) {
    return new ZerolossError("REGISTRY_TLS_FAILED", `the schema registry (${url}) for ${doing}: TLS: ${tls.reason} (${tls.code}); ${tls.fix} (kafka.registry.caFile)`, { details, cause: err });
  }
  const status = (err as { status?: unknown })?.status;
  const message = (err as Error)?.message ?? String(err);
  if (NETWORK.test(message) || (typeof status === "number" && (status >= 500 || status === 408 || status === 429))) {
    return new ZerolossError("REGISTRY_UNREACHABLE", `the schema registry (kafka.registry.url ${url}) could not be reached for ${doing}: ${message}`, {
      details,
      cause: err,
    });
  }
  if (status === 409) {
    return new ZerolossError("SCHEMA_INCOMPATIBLE", `the schema registry (${url}) refused ${doing}: not BACKWARD compatible with the subject's versions (${message})`, {
      details,
      cause: err,
    });
  }
  if (typeof status === "number") {
    return new ZerolossError("REGISTRY_REFUSED", `the schema registry (${url}) refused ${doing}: HTTP ${status}: ${message}`, { details, cause: err });
  }
  return new ZerolossError("REGISTRY_FAILED", `${doing} failed against the schema registry (${url}): ${message}`, { details, cause: err });
}

/** Encodes one table's envelopes with one registered schema version. */
export class AvroWriter {
  constructor(
    readonly id: number,
    readonly subject: string,
    private readonly type: AvroType,
    private readonly table: string,
    private readonly columns: readonly SchemaColumn[],
  ) {}

  private row(row: Row, present: (name: string) => boolean): Record<string, unknown> {
    for (const name of Object.keys(row)) {
      if (!this.columns.some((c) => c.column.name === name)) throw new WireError("WIRE_MALFORMED", `table ${this.table}: row member ${JSON.stringify(name)} is not in the column list`);
    }
    const out: Record<string, unknown> = {};
    for (const c of this.columns) {
      const name = c.column.name;
      out[c.field] = present(name) ? toAvro(c.kind, row[name] ?? null, { table: this.table, column: name }) : null;
    }
    return out;
  }

  encode(env: Envelope): Buffer {
    const after = env.after;
    const before = env.before;
    const payload: Payload = {
      v: env.v,
      op: env.op,
      source: { ...env.source, xid: env.source.xid === null ? null : BigInt(env.source.xid) },
      after: after === null ? null : this.row(after, (n) => Object.hasOwn(after, n)),
      unchanged: [...(env.unchanged ?? [])],
      before: before === null ? null : this.row(before, (n) => Object.hasOwn(before, n)),
      beforeColumns: before === null ? [] : this.columns.flatMap((c) => (Object.hasOwn(before, c.column.name) ? [c.column.name] : [])),
      partition: env.partition ?? null,
      checksum: env.checksum,
      rows: env.rows === undefined ? null : { count: env.rows.count, copy: env.rows.copy },
    };
    const body = this.type.toBuffer(payload);
    const out = Buffer.allocUnsafe(HEADER + body.length);
    out[0] = MAGIC;
    out.writeUInt32BE(this.id, 1);
    body.copy(out, HEADER);
    return out;
  }
}

/** What decoding the values of one writer schema needs. */
export interface AvroReader {
  readonly type: AvroType;
  readonly columns: readonly SchemaColumn[];
  readonly envelopeColumns: readonly EnvelopeColumn[];
  readonly columnsJson: string;
}

/** An Avro type for a schema, parsed as the registry client parses it (int8 as BigInt). */
export function avroType(schema: object): AvroType {
  return avsc.Type.forSchema(schema as avsc.Schema, { registry: { long: LongAsBigInt } }) as unknown as AvroType;
}

/** The reader of a writer schema: `type` parsed from it, `schema` its JSON (the pg.* attributes name the columns). */
export function avroReader(type: AvroType, schema: unknown): AvroReader {
  const columns = schemaColumns(schema);
  const envelopeColumns = Object.freeze(columns.map((c) => Object.freeze({ ...c.column })));
  return { type, columns, envelopeColumns, columnsJson: JSON.stringify(envelopeColumns) };
}

/** The envelope of an Avro value (framing included) of the reader's schema, as the JSON encoding would have given it. */
export function decodeAvro(r: AvroReader, value: Buffer): Envelope {
  let p: Payload;
  try {
    p = r.type.fromBuffer(value.subarray(HEADER)) as Payload;
  } catch (err) {
    throw new WireError("WIRE_MALFORMED", `record value does not decode with its schema (id ${schemaIdOf(value)}): ${(err as Error).message}`);
  }
  const table = `${p.source.schema}.${p.source.table}`;
  const unchanged = new Set(p.unchanged);
  const rowOf = (obj: Record<string, unknown>, present: (name: string) => boolean): Row => {
    const row: Record<string, string | null> = Object.create(null) as Record<string, string | null>;
    for (const c of r.columns) {
      const name = c.column.name;
      if (present(name)) row[name] = fromAvro(c.kind, obj[c.field], { table, column: name });
    }
    return row;
  };
  const beforeColumns = new Set(p.beforeColumns);
  return checkEnvelope(
    {
      v: p.v as 1, // checkEnvelope refuses any other version
      op: p.op,
      source: { ...p.source, xid: p.source.xid === null ? null : Number(p.source.xid) },
      columns: p.op === "t" ? [] : r.envelopeColumns,
      after: p.after === null ? null : rowOf(p.after, (n) => !unchanged.has(n)),
      ...(p.unchanged.length > 0 ? { unchanged: p.unchanged } : {}),
      before: p.before === null ? null : rowOf(p.before, (n) => beforeColumns.has(n)),
      ...(p.partition === null ? {} : { partition: p.partition }),
      checksum: p.checksum,
      ...(p.rows === undefined || p.rows === null ? {} : { rows: { count: p.rows.count, copy: p.rows.copy } }),
    },
    true,
  );
}

/** The registry, as zeroloss uses it: writers for the producer, decoding for the consumer and the counter. */
export class AvroRegistry {
  private readonly client: SchemaRegistry;
  private readonly readers = new Map<number, AvroReader>();
  /** Schema ids whose schema cannot be read, and why (their records are malformed). */
  private readonly unreadable = new Map<number, string>();
  private readonly knownColumnsJson = new WeakMap<readonly EnvelopeColumn[], string>();
  /** Writers by subject and schema text: a table's snapshot chunks register the same column list again and again. */
  private readonly writers = new Map<string, AvroWriter>();
  /** The registration under way per subject. */
  private readonly registering = new Map<string, Promise<AvroWriter>>();

  private readonly agent: http.Agent;
  readonly url: string;

  constructor(private readonly connection: RegistryConnection) {
    this.url = connection.url;
    this.agent = registryAgent(connection);
    // avsc adds every named type it parses to `registry`, and the client passes the same
    // options to each parse: a shared object would refuse the second schema of a subject
    // ("duplicate type name"). A getter hands each parse a fresh one.
    const avro = {
      get registry() {
        return { long: LongAsBigInt };
      },
    };
    const auth = registryAuth(connection);
    this.client = new SchemaRegistry({ host: connection.url, agent: this.agent, ...(auth === undefined ? {} : { auth }) }, { [SchemaType.AVRO]: avro });
  }

  /** Registers (or finds) a table's schema for these columns under `<topic>-value`, BACKWARD compatible with its earlier versions. */
  async writer(topic: string, schema: string, table: string, columns: readonly EnvelopeColumn[]): Promise<AvroWriter> {
    const subject = `${topic}-value`;
    // One registration per subject at a time: the first one of a new subject also sets its
    // compatibility, and a second one racing it would be refused (a table's live snapshot
    // and its streamed changes register the same subject).
    const before = this.registering.get(subject) ?? Promise.resolve();
    const mine = before.then(
      () => this.register(subject, schema, table, columns),
      () => this.register(subject, schema, table, columns),
    );
    this.registering.set(subject, mine);
    try {
      return await mine;
    } finally {
      if (this.registering.get(subject) === mine) this.registering.delete(subject);
    }
  }

  private async register(subject: string, schema: string, table: string, columns: readonly EnvelopeColumn[]): Promise<AvroWriter> {
    const raw = envelopeSchema(schema, table, columns);
    const cacheKey = `${subject}\n${JSON.stringify(raw)}`;
    const known = this.writers.get(cacheKey);
    if (known !== undefined) return known;
    const details = { subject, table: `${schema}.${table}` };
    let id: number;
    try {
      const compatibility = await this.compatibilityOf(subject);
      ({ id } = await this.client.register({ type: SchemaType.AVRO, schema: JSON.stringify(raw) }, { subject, compatibility }));
    } catch (err) {
      throw registryError(err, this.url, `the schema of ${schema}.${table} under subject ${subject}`, details);
    }
    const type = (await this.client.getSchema(id)) as unknown as AvroType;
    const writer = new AvroWriter(id, subject, type, `${schema}.${table}`, schemaColumns(raw));
    this.writers.set(cacheKey, writer);
    return writer;
  }

  /**
   * The subject's own compatibility setting, or BACKWARD for a new subject (set on its first
   * registration). The client refuses to register when the level it is given differs from
   * the subject's: an operator who relaxed a subject (to let a narrowing change through)
   * must not be overruled.
   */
  private async compatibilityOf(subject: string): Promise<COMPATIBILITY> {
    const res = await registryGet(this.connection, this.agent, `/config/${encodeURIComponent(subject)}`);
    if (res.status === 404) return COMPATIBILITY.BACKWARD;
    if (res.status < 200 || res.status >= 300) throw Object.assign(new Error(`GET /config/${subject}: ${res.text}`), { status: res.status });
    const level = (JSON.parse(res.text) as { compatibilityLevel?: string }).compatibilityLevel?.toUpperCase();
    const known = Object.values(COMPATIBILITY) as string[];
    return level !== undefined && known.includes(level) ? (level as COMPATIBILITY) : COMPATIBILITY.BACKWARD;
  }

  /**
   * Fetches the writer schemas of these values not seen yet; decode() needs them. A schema
   * the registry cannot give (unknown id) or that is no zeroloss envelope schema makes each
   * of its records malformed (decode() says why), not the whole batch; a registry out of
   * reach throws, to be retried.
   */
  async load(values: readonly (Buffer | null)[]): Promise<void> {
    for (const v of values) {
      const id = v === null ? null : schemaIdOf(v);
      if (id === null || this.readers.has(id) || this.unreadable.has(id)) continue;
      try {
        this.readers.set(id, await this.fetchReader(id));
      } catch (err) {
        if (!(err instanceof ZerolossError) || err.retriable) throw err;
        this.unreadable.set(id, err.message);
      }
    }
  }

  private async fetchReader(id: number): Promise<AvroReader> {
    let type: AvroType;
    let text: string;
    try {
      type = (await this.client.getSchema(id)) as unknown as AvroType;
      // The client's parsed schema drops the fields' pg.* attributes; the column list is read
      // from the schema's own text (the registry's standard GET /schemas/ids/{id}).
      const res = await registryGet(this.connection, this.agent, `/schemas/ids/${id}`);
      if (res.status < 200 || res.status >= 300) throw Object.assign(new Error(res.text), { status: res.status });
      text = (JSON.parse(res.text) as { schema: string }).schema;
    } catch (err) {
      throw registryError(err, this.url, `schema id ${id}`, { schemaId: id });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ZerolossError("AVRO_SCHEMA_UNKNOWN", `schema id ${id} is not JSON: ${(err as Error).message}`);
    }
    const reader = avroReader(type, parsed);
    this.knownColumnsJson.set(reader.envelopeColumns, reader.columnsJson);
    return reader;
  }

  private reader(value: Buffer): AvroReader {
    const id = schemaIdOf(value);
    if (id === null) throw new WireError("WIRE_NOT_AVRO", "record value is not in the schema registry's framing (magic byte 0, schema id)");
    const r = this.readers.get(id);
    const why = this.unreadable.get(id);
    if (why !== undefined) throw new WireError("WIRE_AVRO_SCHEMA", `record value's schema (id ${id}) cannot be read: ${why}`);
    if (r === undefined) throw new ZerolossError("AVRO_SCHEMA_NOT_LOADED", `schema id ${id} was not loaded before decoding (a bug: call load() first)`);
    return r;
  }

  /** The envelope of a loaded Avro value, as the JSON encoding would have given it. */
  decode(value: Buffer): Envelope {
    return decodeAvro(this.reader(value), value);
  }

  /** JSON.stringify(env.columns) for an envelope this registry decoded (computed once per schema), else undefined. */
  columnsJsonOf(env: Envelope): string | undefined {
    return this.knownColumnsJson.get(env.columns);
  }
}
