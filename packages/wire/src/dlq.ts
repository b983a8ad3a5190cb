// The dead-letter record: what the consumer publishes to `<prefix>.__dlq` for every record it
// quarantines (a checksum that does not match, bytes that are no envelope, a row the target
// refuses). The same facts are in the target's zeroloss.quarantine row; this copy is for
// tools that watch Kafka. One JSON object per Kafka record, keyed by the original record's key.
import { parseObject } from "./control.js";
import { WireError } from "./errors.js";

export interface DlqRecord {
  readonly v: 1;
  /** Why it was quarantined: CHECKSUM_MISMATCH, WIRE_NOT_JSON, WIRE_KEY_MISMATCH, … (docs/errors.md). */
  readonly code: string;
  /** The reason in words, naming the table, column or field at fault. */
  readonly reason: string;
  /** Where the record is in Kafka: a replay of exactly it seeks there. */
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** `schema.table` when the record named one. */
  readonly table: string | null;
  /** The checksum the envelope carried, and the one the target computed (checksum mismatches). */
  readonly expectedChecksum: string | null;
  readonly computedChecksum: string | null;
  /** Columns whose values differ from the envelope's (checksum mismatches, when they can be told). */
  readonly differingColumns: readonly string[] | null;
  /** The original record's key and value, base64; for a bad row of a bulk record, that row alone. */
  readonly key: string | null;
  readonly value: string | null;
  /** When the consumer quarantined it (ISO 8601). */
  readonly at: string;
}

export function encodeDlqRecord(r: DlqRecord): Buffer {
  return Buffer.from(JSON.stringify(r), "utf8");
}

const STRINGS = ["code", "reason", "topic", "at"] as const;
const NULLABLE_STRINGS = ["table", "expectedChecksum", "computedChecksum", "key", "value"] as const;
const INTEGERS = ["partition", "offset"] as const;

export function decodeDlqRecord(value: Buffer | null): DlqRecord {
  const o = parseObject(value, "DLQ");
  for (const k of STRINGS) if (typeof o[k] !== "string") throw new WireError("WIRE_MALFORMED", `DLQ record's ${k} is not a string`);
  for (const k of NULLABLE_STRINGS) if (o[k] !== null && typeof o[k] !== "string") throw new WireError("WIRE_MALFORMED", `DLQ record's ${k} is neither a string nor null`);
  for (const k of INTEGERS) {
    const n = o[k];
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0) throw new WireError("WIRE_MALFORMED", `DLQ record's ${k} is not a non-negative integer`);
  }
  const cols = o["differingColumns"];
  if (cols !== null && !(Array.isArray(cols) && cols.every((c) => typeof c === "string"))) throw new WireError("WIRE_MALFORMED", "DLQ record's differingColumns is neither a list of names nor null");
  return o as unknown as DlqRecord;
}
