// Bulk records of a snapshot chunk: each row in the record of its key's partition, every row
// once with its checksum in order, and no record above the size the broker takes, however the
// text escapes.
import { describe, expect, it } from "vitest";
import { partitionForKey } from "@zeroloss/kafka";
import { decodeEnvelope, parseBulkRows, topicNames } from "@zeroloss/wire";
import { relationSchema } from "./envelopes.js";
import { BULK_RECORD_BYTES, bulkRecords } from "./snapshot-chunk.js";

const rel = relationSchema(topicNames("t"), 1, "public", "items", [
  { name: "note", type: "text", typeOid: 25, typmod: -1 },
  { name: "id", type: "bigint", typeOid: 20, typmod: -1, key: true },
]);
const source = { db: "d", schema: "public", table: "items", lsn: "0/10", commitLsn: "0/20", xid: null, commitTime: "2026-12-06T00:00:00.000001Z" };
/** A chunk line as the source's COPY gives it: checksum, then the values (note, id). */
const line = (id: number, note: string) => `sum${id}\t${note}\t${id}`;

describe("bulkRecords", () => {
  it("puts every row once, in order, in the record of its key's partition", () => {
    const lines = Array.from({ length: 500 }, (_, i) => line(i + 1, `note ${i + 1}`));
    const { records } = bulkRecords(rel, { lines }, [1], 6, source);
    const seen: number[] = [];
    for (const r of records) {
      const env = decodeEnvelope(r.record.value);
      expect(r.record.key).toBeNull();
      expect(env.partition).toBe(r.record.partition);
      const rows = parseBulkRows(env);
      expect(r.checksums).toEqual(rows.map((x) => x.checksum));
      for (const row of rows) {
        expect(partitionForKey(row.key, 6)).toBe(r.record.partition);
        expect(row.key).toBe(JSON.stringify({ id: row.values[1] }));
        seen.push(Number(row.values[1]));
      }
    }
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
  });

  it("splits a record whose JSON would pass the broker's limit (control characters escape to six bytes)", () => {
    const heavy = "\u0001".repeat(40_000); // 40,000 characters of COPY text, 240,000 bytes as JSON
    const lines = Array.from({ length: 12 }, (_, i) => line(7, heavy).replace("sum7", `sum${i}`).replace(/\t7$/, `\t${i * 6}`));
    const { records } = bulkRecords(rel, { lines }, [1], 1, source);
    expect(records.length).toBeGreaterThan(2);
    for (const r of records) expect(r.record.value.length).toBeLessThanOrEqual(BULK_RECORD_BYTES);
    expect(records.reduce((n, r) => n + r.checksums.length, 0)).toBe(12);
  });
});
