// Builds the data records of one change: the envelope (packages/wire), its Kafka key and
// its row checksum, computed here from the decoded tuple — where the change is read.
// A relation's column list is resolved once per Relation message, so a column added or
// dropped mid-stream shows in the very next event.
import { rowChecksum, RowChecksummer, UNCHANGED, type CellValue } from "@zeroloss/checksum";
import { ZerolossError } from "@zeroloss/errors";
import type { ColumnFacts, RelationMessage, TableInfo, Tuple, TypeNames } from "@zeroloss/pg";
import type { AvroRegistry, AvroWriter } from "@zeroloss/avro";
import type { Envelope, EnvelopeColumn, EnvelopeSource, Op, Row, TopicNames } from "@zeroloss/wire";
import { encodeEnvelope, RowJson } from "@zeroloss/wire";
import type { DataRecord } from "./kafka-writer.js";

export interface RelationSchema {
  readonly oid: number;
  readonly schema: string;
  readonly table: string;
  /** `schema.table` */
  readonly qualified: string;
  readonly topic: string;
  readonly columns: readonly EnvelopeColumn[];
  readonly names: readonly string[];
  readonly keyIndexes: readonly number[];
  /** JSON.stringify(columns), once per relation instead of once per record. */
  readonly columnsJson: string;
  /** Row checksums over all columns, the names encoded once per relation. */
  readonly checksummer: RowChecksummer;
  /** Rows and keys as JSON in column order, the names serialised once per relation. */
  readonly rowJson: RowJson;
  /** `"schema":…,"table":…`, for rowRecord's envelope text. */
  readonly schemaTableJson: string;
  /** With kafka.encoding avro: this column list's registered schema version; null writes JSON. */
  readonly avro: AvroWriter | null;
}

/** kafka.encoding: how a relation's record values are written. */
export interface ValueEncoding {
  /** The relation, ready to encode: with avro, its schema registered (a new version when its columns changed). */
  prepare(rel: RelationSchema): Promise<RelationSchema>;
}

export const JSON_ENCODING: ValueEncoding = { prepare: async (rel) => rel };

export function avroEncoding(registry: AvroRegistry): ValueEncoding {
  return { prepare: async (rel) => ({ ...rel, avro: await registry.writer(rel.topic, rel.schema, rel.table, rel.columns) }) };
}

export function relationSchema(
  topics: TopicNames,
  oid: number,
  schema: string,
  table: string,
  columns: readonly EnvelopeColumn[],
): RelationSchema {
  const keyIndexes = columns.flatMap((c, i) => (c.key === true ? [i] : []));
  if (keyIndexes.length === 0) {
    throw new ZerolossError("TABLE_WITHOUT_KEY", `table ${schema}.${table} has no replica identity key in the replication stream`, {
      details: { table: `${schema}.${table}` },
    });
  }
  return {
    oid,
    schema,
    table,
    qualified: `${schema}.${table}`,
    topic: topics.data(schema, table),
    columns,
    names: columns.map((c) => c.name),
    keyIndexes,
    columnsJson: JSON.stringify(columns),
    checksummer: new RowChecksummer(columns.map((c) => c.name)),
    rowJson: new RowJson(columns.map((c) => c.name)),
    schemaTableJson: `"schema":${JSON.stringify(schema)},"table":${JSON.stringify(table)}`,
    avro: null,
  };
}

/** From the catalog, for snapshot reads. */
export function schemaFromTable(topics: TopicNames, info: TableInfo): RelationSchema {
  const key = new Set(info.keyColumns);
  return relationSchema(
    topics,
    info.oid,
    info.schema,
    info.name,
    info.columns.map((c) => ({
      name: c.name,
      type: c.sqlType,
      typeOid: c.typeOid,
      typmod: c.typeMod,
      ...(key.has(c.name) ? { key: true as const } : {}),
      attnum: c.attnum,
      ...(c.missing === undefined ? {} : { missing: c.missing }),
    })),
  );
}

/** From a pgoutput Relation message, for streamed changes. */
export async function schemaFromRelation(
  topics: TopicNames,
  msg: RelationMessage,
  types: TypeNames,
  primaryKey: (relationOid: number) => Promise<readonly string[]>,
  columnFacts: (relationOid: number) => Promise<ReadonlyMap<string, ColumnFacts>> = async () => new Map(),
  /** The relation's column list before this message: PostgreSQL sends a Relation message again whenever its cache entry is invalidated. */
  previous: readonly EnvelopeColumn[] = [],
): Promise<RelationSchema> {
  // Under REPLICA IDENTITY FULL every column is flagged; the row's key is its primary key.
  const fullKey = msg.replicaIdentity === "full" ? new Set(await primaryKey(msg.relationOid)) : null;
  const facts = await columnFacts(msg.relationOid);
  const liveAttnums = new Set([...facts.values()].map((f) => f.attnum));
  const columns: EnvelopeColumn[] = [];
  for (const c of msg.columns) {
    const key = fullKey === null ? c.key : fullKey.has(c.name);
    // Absent when the column was renamed or dropped since: then what the last list said of
    // a column of that name and type (a Relation message sent again for an older list).
    // Only an attnum the catalog still has (under its new name): a column dropped since is not the one listed.
    const prior = previous.find((p) => p.name === c.name && p.typeOid === c.typeOid && p.typmod === c.typeMod && p.attnum !== undefined && liveAttnums.has(p.attnum));
    const f: ColumnFacts | undefined = facts.get(c.name) ?? (prior?.attnum === undefined ? undefined : { attnum: prior.attnum, ...(prior.missing === undefined ? {} : { missing: prior.missing }) });
    columns.push({
      name: c.name,
      type: await types.resolve(c.typeOid, c.typeMod),
      typeOid: c.typeOid,
      typmod: c.typeMod,
      ...(key ? { key: true as const } : {}),
      ...(f === undefined ? {} : { attnum: f.attnum }),
      ...(f?.missing === undefined ? {} : { missing: f.missing }),
    });
  }
  return relationSchema(topics, msg.relationOid, msg.schema, msg.name, columns);
}

export interface BuiltRecord {
  readonly record: DataRecord;
  readonly op: Op;
  /** Raw SHA-256 of the row checksum, for the manifest hash; null for truncates. */
  readonly checksum: string | null;
}

/** The canonical key (encodeKey in packages/wire: key columns in order, as a JSON object of text values). */
export function keyOf(rel: RelationSchema, values: Tuple): string {
  for (const i of rel.keyIndexes) {
    const v = values[i];
    if (v === UNCHANGED || v === undefined) {
      throw new ZerolossError("KEY_VALUE_MISSING", `table ${rel.qualified}: key column ${rel.names[i] ?? i} has no value in the change`, {
        details: { table: rel.qualified, column: rel.names[i] },
      });
    }
  }
  return rel.rowJson.of(values, rel.keyIndexes);
}

/** A c, u or r record from a full new tuple (unchanged TOAST values marked, not filled). */
export function rowRecord(op: "c" | "u" | "r", rel: RelationSchema, values: Tuple, source: EnvelopeSource): BuiltRecord {
  if (values.length !== rel.names.length) {
    throw new ZerolossError(
      "TUPLE_SHAPE",
      `table ${rel.qualified}: a change has ${values.length} values for ${rel.names.length} columns (${rel.names.join(", ")})`,
      { details: { table: rel.qualified, lsn: source.lsn } },
    );
  }
  // The text encodeEnvelope (packages/wire, the definition) gives for this envelope, written
  // from per-relation fragments: the hottest code of the producer. envelopes.test.ts holds
  // the two byte for byte.
  let unchanged: string[] | undefined;
  for (let i = 0; i < values.length; i++) if (values[i] === UNCHANGED) (unchanged ??= []).push(rel.names[i] as string);
  const checksum = rel.checksummer.checksum(values);
  const key = keyOf(rel, values);
  if (rel.avro !== null) {
    const after: Record<string, string | null> = Object.create(null) as Record<string, string | null>;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v !== UNCHANGED && v !== undefined) after[rel.names[i] as string] = v;
    }
    const env: Envelope = { v: 1, op, source, columns: rel.columns, after, ...(unchanged === undefined ? {} : { unchanged }), before: null, checksum };
    return { record: { topic: rel.topic, key, value: rel.avro.encode(env) }, op, checksum };
  }
  const s = source;
  let text =
    `{"v":1,"op":"${op}","source":{"db":${JSON.stringify(s.db)},${rel.schemaTableJson},"lsn":${JSON.stringify(s.lsn)},` +
    `"commitLsn":${JSON.stringify(s.commitLsn)},"xid":${s.xid},"commitTime":${JSON.stringify(s.commitTime)},"seq":${s.seq}},` +
    `"columns":${rel.columnsJson},"after":${rel.rowJson.of(values)}`;
  if (unchanged !== undefined) text += `,"unchanged":${JSON.stringify(unchanged)}`;
  text += `,"before":null,"checksum":"${checksum}"}`;
  return { record: { topic: rel.topic, key, value: Buffer.from(text, "utf8") }, op, checksum };
}

/** A d record: `before` holds the old key (or the old row under REPLICA IDENTITY FULL). */
export function deleteRecord(rel: RelationSchema, oldKind: "K" | "O", old: Tuple, source: EnvelopeSource): BuiltRecord {
  const before: Record<string, string | null> = Object.create(null) as Record<string, string | null>;
  const names: string[] = [];
  const values: CellValue[] = [];
  const keyOnly = new Set(rel.keyIndexes);
  for (let i = 0; i < rel.names.length; i++) {
    const v = old[i];
    if (v === undefined || v === UNCHANGED) continue;
    if (oldKind === "K" && !keyOnly.has(i)) continue;
    const name = rel.names[i] as string;
    before[name] = v;
    names.push(name);
    values.push(v);
  }
  const checksum = rowChecksum(names, values);
  const env: Envelope = { v: 1, op: "d", source, columns: rel.columns, after: null, before, checksum };
  const value = rel.avro === null ? encodeEnvelope(env, rel.columnsJson) : rel.avro.encode(env);
  return { record: { topic: rel.topic, key: keyOf(rel, old), value }, op: "d", checksum };
}

/** Did an update change the row's key? Then it travels as d (old key) + c (new key), each in its own key's partition. */
export function keyChanged(rel: RelationSchema, old: Tuple, next: Tuple): boolean {
  return rel.keyIndexes.some((i) => old[i] !== UNCHANGED && old[i] !== undefined && old[i] !== next[i]);
}

/**
 * The new row of a key-changing update, whole. PostgreSQL leaves an unchanged TOAST value
 * out of the new row even when the key changed; as the row travels as d (old key) + c (new
 * key), the c must carry the value itself. Under REPLICA IDENTITY FULL the old row has it;
 * otherwise it cannot be known from the stream, and guessing (NULL, or a later read of the
 * source) would alter data, so the producer stops and says how to avoid it.
 */
export function completeMovedRow(rel: RelationSchema, next: Tuple, old: Tuple | null, oldKind: "K" | "O" | null, lsn: string): Tuple {
  if (!next.includes(UNCHANGED)) return next;
  const filled = next.map((v, i) => (v === UNCHANGED && oldKind === "O" ? (old?.[i] ?? UNCHANGED) : v));
  const missing = filled.flatMap((v, i) => (v === UNCHANGED ? [rel.names[i] as string] : []));
  if (missing.length > 0) {
    throw new ZerolossError(
      "TOAST_VALUE_UNAVAILABLE",
      `table ${rel.qualified}: an update at ${lsn} changed the row's key and left the large value of ${missing.join(", ")} unchanged; ` +
        `PostgreSQL does not send that value, so the moved row cannot be rebuilt. Fix: ALTER TABLE ${rel.qualified} REPLICA IDENTITY FULL ` +
        `(the old row then carries it), then re-snapshot with zeroloss producer --resnapshot`,
      { details: { table: rel.qualified, columns: missing, lsn } },
    );
  }
  return filled;
}

/** One t record for one partition of the table's topic. */
export function truncateRecord(rel: RelationSchema, partition: number, source: EnvelopeSource): BuiltRecord {
  const env: Envelope = { v: 1, op: "t", source, columns: [], after: null, before: null, partition, checksum: null };
  return { record: { topic: rel.topic, key: null, value: rel.avro === null ? encodeEnvelope(env) : rel.avro.encode(env), partition }, op: "t", checksum: null };
}

export type { Row };
