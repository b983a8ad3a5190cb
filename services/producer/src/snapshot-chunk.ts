// One chunk of a snapshot range, read from the source with COPY … TO STDOUT and turned into
// data records: bulk records (packages/wire, BulkRows), one or more per partition, each
// row's line prefixed with its canonical key, so neither Node process decodes a row's
// values (JSON or Avro envelopes alike); or, with source.snapshot.bulk false, one record
// per row (rowRecords).
import { pipeline } from "node:stream/promises";
import { Writable } from "node:stream";
import { to as copyTo } from "pg-copy-streams";
import type pg from "pg";
import { ZerolossError } from "@zeroloss/errors";
import { partitionForKey } from "@zeroloss/kafka";
import { copyField, copyLines, encodeEnvelope, parseCopyField, parseCopyLine, type Envelope, type EnvelopeSource, type KeyValues, type SnapshotRange } from "@zeroloss/wire";
import { rowRecord, type RelationSchema } from "./envelopes.js";
import type { DataRecord } from "./kafka-writer.js";
import type { TableRanges } from "./snapshot-ranges.js";

/** A bulk record's COPY text is cut at about this many characters (about 300 KiB encoded for plain text). */
export const BULK_RECORD_CHARS = 256 * 1024;
/** A bulk record's encoded value stays at or below this (the broker's message.max.bytes is 1 MiB). */
export const BULK_RECORD_BYTES = 900 * 1024;

export interface Chunk {
  /** COPY text lines: checksum, then the values in column order. */
  readonly lines: readonly string[];
  /** The key of the chunk's last row (null: the chunk is empty). */
  readonly lastKey: KeyValues | null;
}

/** Reads the range's next chunk on `client` (inside the snapshot's transaction). */
export async function readChunk(client: pg.Client, ranges: TableRanges, range: SnapshotRange, chunkSize: number): Promise<Chunk> {
  const parts: Buffer[] = [];
  try {
    await pipeline(
      client.query(copyTo(ranges.chunkCopy(range, chunkSize))),
      new Writable({
        write(chunk: Buffer, _enc, done) {
          parts.push(chunk);
          done();
        },
      }),
    );
  } catch (err) {
    throw new ZerolossError("SNAPSHOT_READ_FAILED", `reading a snapshot chunk of ${ranges.name}: ${(err as Error).message}`, {
      cause: err,
      details: { table: ranges.name, afterKey: range.lastKey ?? range.after },
    });
  }
  const lines = copyLines(Buffer.concat(parts).toString("utf8"));
  const last = lines[lines.length - 1];
  return { lines, lastKey: last === undefined ? null : keyFields(last, ranges.keyIndexes, fieldsNeeded(ranges.keyIndexes)).map(parseCopyField) };
}

/** How many leading fields of a chunk line hold every key column (after the checksum). */
function fieldsNeeded(keyIndexes: readonly number[]): number {
  return Math.max(...keyIndexes) + 2;
}

/** The key's fields of a chunk line (still COPY-escaped): after the leading checksum, at the key columns' places. */
function keyFields(line: string, keyIndexes: readonly number[], needed: number): string[] {
  const fields = line.split("\t", needed);
  return keyIndexes.map((i) => fields[i + 1] as string);
}

/** A chunk's data records, and per record the row checksums it carries (for the manifest). */
export interface ChunkRecords {
  readonly records: { readonly record: DataRecord; readonly checksums: readonly string[] }[];
}

/** The rows of one partition, gathered for a bulk record. */
interface Part {
  lines: string[];
  checksums: string[];
  chars: number;
}

/**
 * Bulk records of a chunk: its rows grouped by their key's partition, at most about
 * BULK_RECORD_CHARS of text each. A record whose encoding still comes out above
 * BULK_RECORD_BYTES (JSON escapes control characters to six bytes, and UTF-8 takes up to
 * three per character) is split in two until it fits; a single row above it goes alone, and
 * the broker names it if it refuses it.
 */
export function bulkRecords(
  rel: RelationSchema,
  chunk: Pick<Chunk, "lines">,
  keyIndexes: readonly number[],
  partitions: number,
  source: Omit<EnvelopeSource, "seq">,
  /** The first record's source.seq (the next ones count up from it). */
  firstSeq = 0,
): ChunkRecords {
  const open = new Map<number, Part>();
  const records: ChunkRecords["records"] = [];
  const emit = (partition: number, part: Part): void => {
    const env: Envelope = {
      v: 1,
      op: "r",
      source: { ...source, seq: firstSeq + records.length },
      columns: rel.columns,
      after: null,
      before: null,
      partition,
      rows: { count: part.checksums.length, copy: part.lines.join("") },
      checksum: null,
    };
    const value = rel.avro === null ? encodeEnvelope(env, rel.columnsJson) : rel.avro.encode(env);
    if (value.length > BULK_RECORD_BYTES && part.lines.length > 1) {
      const half = part.lines.length >> 1;
      emit(partition, { lines: part.lines.slice(0, half), checksums: part.checksums.slice(0, half), chars: 0 });
      emit(partition, { lines: part.lines.slice(half), checksums: part.checksums.slice(half), chars: 0 });
      return;
    }
    records.push({ record: { topic: rel.topic, key: null, value, partition, rows: part.checksums.length }, checksums: part.checksums });
  };
  const keyOf = lineKeys(rel, keyIndexes);
  for (const line of chunk.lines) {
    const tab = line.indexOf("\t");
    const key = keyOf(line);
    const partition = partitionForKey(key, partitions);
    let part = open.get(partition);
    if (part === undefined) open.set(partition, (part = { lines: [], checksums: [], chars: 0 }));
    const text = `${copyField(key)}\t${line}\n`;
    part.lines.push(text);
    part.checksums.push(line.slice(0, tab));
    part.chars += text.length;
    if (part.chars >= BULK_RECORD_CHARS) {
      emit(partition, part);
      open.delete(partition);
    }
  }
  for (const [partition, part] of open) emit(partition, part);
  return { records };
}

/** The canonical key (the Kafka key a single record would carry) of a chunk line, without decoding its other values. */
export function lineKeys(rel: RelationSchema, keyIndexes: readonly number[]): (line: string) => string {
  const needed = fieldsNeeded(keyIndexes);
  return (line) => rel.rowJson.of(valuesAt(keyFields(line, keyIndexes, needed).map(parseCopyField), keyIndexes), rel.keyIndexes);
}

/** A chunk line's values, in column order (the leading checksum left out). */
export function lineValues(line: string): (string | null)[] {
  return parseCopyLine(line).slice(1);
}

/** A sparse row holding `values` at the key columns' places (RowJson.of picks them by index). */
function valuesAt(values: readonly (string | null)[], at: readonly number[]): (string | null)[] {
  const row: (string | null)[] = [];
  at.forEach((i, j) => (row[i] = values[j] ?? null));
  return row;
}

/** One record per row (source.snapshot.bulk false: for readers of the data topics other than zeroloss's consumer). */
export function rowRecords(rel: RelationSchema, chunk: Chunk, source: Omit<EnvelopeSource, "seq">): ChunkRecords {
  return {
    records: chunk.lines.map((line, seq) => {
      const built = rowRecord("r", rel, lineValues(line), { ...source, seq });
      return { record: built.record, checksums: [built.checksum as string] };
    }),
  };
}
