// The DLQ record's wire form: what the consumer encodes decodes to the same record, and a
// record that is not one is refused with the field named.
import { describe, expect, it } from "vitest";
import { decodeDlqRecord, encodeDlqRecord, type DlqRecord } from "./dlq.js";
import { WireError } from "./errors.js";

const record: DlqRecord = {
  v: 1,
  code: "CHECKSUM_MISMATCH",
  reason: "table public.accounts: the checksum of key 5 computed by the target differs from the envelope's",
  topic: "zeroloss.public.accounts",
  partition: 2,
  offset: 41,
  table: "public.accounts",
  expectedChecksum: "a".repeat(64),
  computedChecksum: "b".repeat(64),
  differingColumns: ["balance"],
  key: Buffer.from('{"id":"5"}').toString("base64"),
  value: null,
  at: "2026-12-06T00:00:00.000Z",
};

describe("DLQ records", () => {
  it("decode to what was encoded", () => {
    expect(decodeDlqRecord(encodeDlqRecord(record))).toEqual(record);
  });

  it.each([
    ["no value", null, "WIRE_EMPTY", /no value/],
    ["not JSON", Buffer.from("{"), "WIRE_NOT_JSON", /not JSON/],
    ["another version", encodeDlqRecord({ ...record, v: 2 } as unknown as DlqRecord), "WIRE_VERSION", /version 2/],
    ["an offset that is not an integer", encodeDlqRecord({ ...record, offset: 1.5 }), "WIRE_MALFORMED", /offset/],
    ["a reason missing", Buffer.from(JSON.stringify({ ...record, reason: undefined })), "WIRE_MALFORMED", /reason/],
    ["differing columns that are not names", encodeDlqRecord({ ...record, differingColumns: [1] as unknown as string[] }), "WIRE_MALFORMED", /differingColumns/],
    ["a key that is neither text nor null", encodeDlqRecord({ ...record, key: 7 as unknown as string }), "WIRE_MALFORMED", /key/],
  ])("refuse %s", (_what, bytes, code, message) => {
    let thrown: unknown;
    try {
      decodeDlqRecord(bytes);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(WireError);
    expect((thrown as WireError).code).toBe(code);
    expect((thrown as WireError).message).toMatch(message);
  });
});
