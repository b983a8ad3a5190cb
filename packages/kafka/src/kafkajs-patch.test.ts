// kafkajs 2.2.4 is patched (patches/kafkajs+2.2.4.patch, applied by patch-package on npm
// install) where its produce path spent most of the producer's CPU: CRC-32C by slicing-by-8,
// varints written in place, record buffers sized up front, partitions grouped without
// copying. These checks hold the patched encoder to the protocol: a record batch must
// carry the CRC-32C of its bytes and decode back to exactly what was encoded. The
// integration tests then send such batches to a real broker, which verifies the CRC too.
import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const require = createRequire(import.meta.url);
const kafkajsSrc = require.resolve("kafkajs").replace(/index\.js$/, "src/");

type Fn = (...args: never[]) => unknown;
const load = <T = Fn>(path: string): T => require(kafkajsSrc + path) as T;

const crc32C = load<(b: Buffer) => number>("protocol/recordBatch/crc32C/index.js");
const Record = load<(r: { offsetDelta: number; timestampDelta: number; key: string | Buffer | null; value: Buffer | null; headers?: Record<string, string> }) => unknown>(
  "protocol/recordBatch/record/v0/index.js",
);
const { RecordBatch } = load<{ RecordBatch: (o: Record<string, unknown>) => Promise<{ buffer: Buffer }> }>("protocol/recordBatch/v0/index.js");
const decodeBatch = load<(d: unknown) => Promise<{ records: { key: Buffer | null; value: Buffer | null; offset: string; timestamp: string; headers: Record<string, Buffer> }[]; lastOffsetDelta: number }>>(
  "protocol/recordBatch/v0/decoder.js",
);
const Decoder = load<new (b: Buffer) => unknown>("protocol/decoder.js");
const groupMessagesPerPartition = load<(o: Record<string, unknown>) => Record<string, unknown[]>>("producer/groupMessagesPerPartition.js");
const Long = load<{ fromValue: (v: number | string) => unknown }>("utils/long.js");

/** CRC-32C (Castagnoli), one bit at a time: the definition, nothing borrowed from kafkajs. */
function referenceCrc32C(buf: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of buf) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe("patched kafkajs produce encoding", () => {
  it("is the patched copy (npm install applies patches/kafkajs+2.2.4.patch)", () => {
    expect(readFileSync(kafkajsSrc + "protocol/recordBatch/crc32C/crc32C.js", "utf8")).toContain("zeroloss patch");
  });

  it("computes CRC-32C: the standard check value and random buffers of every length and alignment", () => {
    expect(crc32C(Buffer.from("123456789"))).toBe(0xe3069283);
    expect(crc32C(Buffer.alloc(0))).toBe(0);
    for (let n = 0; n < 300; n++) {
      const buf = randomBytes(n + 8).subarray(n % 8); // lengths 8..307 at every offset mod 8
      expect(crc32C(buf), `length ${buf.length}`).toBe(referenceCrc32C(buf));
    }
    const large = randomBytes(1 << 20);
    expect(crc32C(large)).toBe(referenceCrc32C(large));
  });

  it("encodes a record batch whose CRC covers its bytes and which decodes to what was encoded", async () => {
    const deltas = [0, 1, -1, 63, -64, 64, 300, 2 ** 30 - 1, -(2 ** 30), 2 ** 30, 2 ** 31 + 5, -(2 ** 35), 2 ** 52];
    const firstTimestamp = 1_700_000_000_000;
    const inputs = deltas.map((timestampDelta, i) => ({
      offsetDelta: i * 1000, // multi-byte offset deltas too
      timestampDelta,
      key: i % 3 === 0 ? null : i % 3 === 1 ? `key-${i}-é😀` : Buffer.from([0, 255, i]),
      value: i === 4 ? null : randomBytes(i * 97),
      headers: i % 2 === 0 ? { h: `v${i}` } : {},
    }));
    const encoded = await RecordBatch({
      records: inputs.map((r) => Record(r)),
      firstTimestamp,
      maxTimestamp: firstTimestamp,
      producerId: Long.fromValue(77),
      producerEpoch: 3,
      firstSequence: 12,
      transactional: true,
      lastOffsetDelta: 12_000,
    });
    const bytes = encoded.buffer;
    // FirstOffset int64, Length int32, PartitionLeaderEpoch int32, Magic int8, CRC uint32, then the CRC'd bytes.
    expect(bytes.readInt32BE(8)).toBe(bytes.length - 12);
    expect(bytes.readUInt32BE(17)).toBe(referenceCrc32C(bytes.subarray(21)));

    const batch = await decodeBatch(new Decoder(bytes));
    expect(batch.records).toHaveLength(inputs.length);
    batch.records.forEach((got, i) => {
      const want = inputs[i]!;
      expect(got.offset).toBe(String(want.offsetDelta));
      expect(got.timestamp).toBe(String(firstTimestamp + want.timestampDelta));
      expect(got.key === null ? null : Buffer.from(got.key)).toEqual(want.key === null ? null : Buffer.from(want.key));
      expect(got.value === null ? null : Buffer.from(got.value)).toEqual(want.value);
      expect(Object.fromEntries(Object.entries(got.headers).map(([k, v]) => [k, v.toString()]))).toEqual(want.headers);
    });
  });

  it("encodes a produce request whose partition entries hold CRC-checked batches of exactly the messages given", async () => {
    const produceRequest = load<(o: Record<string, unknown>) => { encode: () => Promise<{ buffer: Buffer }> }>("protocol/requests/produce/v3/request.js");
    const plain = Array.from({ length: 300 }, (_, i) => ({
      key: i % 3 === 0 ? null : i % 3 === 1 ? `key-${i}-é` : Buffer.from([i & 0xff, 0]),
      value: i === 7 ? null : randomBytes((i * 37) % 2000),
    }));
    const withHeaders = plain.slice(0, 20).map((m, i) => ({ ...m, headers: { h: `v${i}` } })); // the unpatched path
    const partitions = [
      { partition: 0, firstSequence: 5, messages: plain },
      { partition: 4, firstSequence: 0, messages: withHeaders },
      { partition: 2, firstSequence: 9, messages: plain.slice(0, 1) },
    ];
    const bytes = (
      await produceRequest({ acks: -1, timeout: 30_000, transactionalId: "tx", producerId: Long.fromValue(42), producerEpoch: 1, compression: 0, topicData: [{ topic: "t", partitions }] }).encode()
    ).buffer;
    // transactional_id, acks, timeout, [topic [partition record_set]]
    let at = 2 + bytes.readInt16BE(0) + 2 + 4;
    expect(bytes.readInt32BE(at)).toBe(1);
    at += 4;
    expect(bytes.subarray(at + 2, at + 2 + bytes.readInt16BE(at)).toString()).toBe("t");
    at += 2 + bytes.readInt16BE(at);
    expect(bytes.readInt32BE(at)).toBe(partitions.length);
    at += 4;
    for (const want of partitions) {
      expect(bytes.readInt32BE(at)).toBe(want.partition);
      const size = bytes.readInt32BE(at + 4);
      const batchBytes = bytes.subarray(at + 8, at + 8 + size);
      at += 8 + size;
      expect(batchBytes.readUInt32BE(17), `CRC of partition ${want.partition}`).toBe(referenceCrc32C(batchBytes.subarray(21)));
      const batch = await decodeBatch(new Decoder(batchBytes));
      expect(batch.lastOffsetDelta).toBe(want.messages.length - 1);
      expect(batch.records.map((r) => [r.key === null ? null : Buffer.from(r.key), r.value === null ? null : Buffer.from(r.value), r.offset])).toEqual(
        want.messages.map((m, i) => [m.key === null ? null : Buffer.from(m.key), m.value, String(i)]),
      );
      want.messages.forEach((m, i) => {
        const headers = Object.fromEntries(Object.entries(batch.records[i]!.headers).map(([k, v]) => [k, v.toString()]));
        expect(headers).toEqual("headers" in m ? m.headers : {});
      });
    }
    expect(at).toBe(bytes.length);
  });

  it("frames a request: size prefix, header, payload", async () => {
    const encodeRequest = load<(o: Record<string, unknown>) => Promise<{ buffer: Buffer }>>("protocol/request.js");
    const Encoder = load<new () => { writeInt32: (n: number) => unknown; writeBytes: (b: Buffer) => unknown }>("protocol/encoder.js");
    const payloadBytes = randomBytes(70_000);
    for (const clientId of ["zeroloss-producer-é", null]) {
      const framed = (
        await encodeRequest({
          correlationId: 1234,
          clientId,
          request: { apiKey: 0, apiVersion: 7, encode: async () => { const e = new Encoder(); e.writeBytes(payloadBytes); return e; } },
        })
      ).buffer;
      const idLength = clientId === null ? 0 : Buffer.byteLength(clientId);
      expect(framed.readInt32BE(0)).toBe(framed.length - 4);
      expect(framed.readInt16BE(4)).toBe(0);
      expect(framed.readInt16BE(6)).toBe(7);
      expect(framed.readInt32BE(8)).toBe(1234);
      expect(framed.readInt16BE(12)).toBe(clientId === null ? -1 : idLength);
      expect(framed.subarray(14, 14 + idLength).toString()).toBe(clientId ?? "");
      expect(framed.readInt32BE(14 + idLength)).toBe(payloadBytes.length);
      expect(framed.subarray(18 + idLength).equals(payloadBytes)).toBe(true);
    }
  });

  it("groups messages per partition keeping their order", () => {
    const messages = Array.from({ length: 5000 }, (_, i) => ({ key: String(i), value: null, partition: (i * 7) % 6 }));
    const grouped = groupMessagesPerPartition({
      topic: "t",
      partitionMetadata: [{ partitionId: 0 }],
      messages,
      partitioner: ({ message }: { message: { partition: number } }) => message.partition,
    });
    expect(Object.keys(grouped).sort()).toEqual(["0", "1", "2", "3", "4", "5"]);
    for (const [p, list] of Object.entries(grouped)) {
      expect(list).toEqual(messages.filter((m) => m.partition === Number(p)));
    }
  });
});

describe("kafkajs request queue (patched)", () => {
  it("schedules its pending-request check without a negative timeout (no TimeoutNegativeWarning at every start)", async () => {
    const RequestQueue = load<new (o: Record<string, unknown>) => { scheduleCheckPendingRequests(): void; destroy(): void }>("network/requestQueue/index.js");
    const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, namespace: () => logger };
    const warnings: string[] = [];
    const note = (w: Error) => warnings.push(w.name);
    process.on("warning", note);
    const queue = new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 1000, enforceRequestTimeout: true, clientId: "test", broker: "b:1", logger });
    try {
      queue.scheduleCheckPendingRequests();
      await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setImmediate(r));
      expect(warnings).not.toContain("TimeoutNegativeWarning");
    } finally {
      queue.destroy();
      process.off("warning", note);
    }
  });
});
