// The streamer's part of a live snapshot (a table snapshotted while streaming), driven by
// pgoutput messages without a server: which chunk rows join the stream, with which LSN, and
// when a chunk must be read again. The orderings here are the ones a real run reaches only by
// chance (test/consumer/new-tables.test.ts runs the whole thing under load).
import { describe, expect, it } from "vitest";
import { rowChecksum, UNCHANGED } from "@zeroloss/checksum";
import { formatLsn, parseTxSnapshot, type PgoutputMessage } from "@zeroloss/pg";
import { copyField, decodeEnvelope, parseBulkRows, topicNames, type Envelope } from "@zeroloss/wire";
import { relationSchema } from "./envelopes.js";
import type { DataRecord, KafkaWriter } from "./kafka-writer.js";
import { testStreamerOptions } from "./streamer-test-options.js";
import { Streamer, WATERMARK_PREFIX } from "./streamer.js";
import type { ChunkOutcome, LiveChunk } from "./watermark-window.js";

const topics = topicNames("zl");
const OID = 42;
const rel = relationSchema(topics, OID, "public", "late", [
  { name: "id", type: "integer", typeOid: 23, typmod: -1, key: true, attnum: 1 },
  { name: "v", type: "integer", typeOid: 23, typmod: -1, attnum: 2 },
  { name: "doc", type: "text", typeOid: 25, typmod: -1, attnum: 3 },
]);

/** A streamer whose Kafka writer keeps what it is given, and whose stream is fed by hand. */
function setup(lastKey: string[] | null, bulk = false) {
  const sent: DataRecord[] = [];
  const writer = {
    open: false,
    recordsInTransaction: 0,
    age: 0,
    add: async (r: DataRecord) => void sent.push(r),
    commit: async () => undefined,
    partitionCount: () => 1,
  } as unknown as KafkaWriter;
  const streamer = new Streamer(
    testStreamerOptions(topics, writer, {
      lingerMs: 1_000_000,
      bulk,
      live: [{ table: "public.late", done: false, lastKey, rows: 0 }],
      keyAfter: async (_rel, key, after) => BigInt(key.get("id") ?? "0") > BigInt(after[0] ?? "0"),
    }),
    0n,
  );
  // As run() would: the stream is up (chunks are refused once it has ended).
  (streamer as unknown as { failure: (e: unknown) => void }).failure = () => undefined;
  streamer.window.open();
  const handle = (lsn: bigint, msg: PgoutputMessage) => (streamer as unknown as { handle(l: string, m: PgoutputMessage): Promise<void> }).handle(formatLsn(lsn), msg);
  (streamer as unknown as { relations: Map<number, unknown> }).relations.set(OID, rel);
  let commitAt = 1000n;
  /** One source transaction: its xid, and its changes at the given LSNs. */
  const txn = async (xid: number, changes: [bigint, PgoutputMessage][]) => {
    commitAt += 100n;
    await handle(commitAt - 50n, { tag: "begin", finalLsn: commitAt, commitTime: 0n, xid });
    for (const [lsn, m] of changes) await handle(lsn, m);
    await handle(commitAt, { tag: "commit", commitLsn: commitAt, endLsn: commitAt + 1n, commitTime: 0n });
  };
  const chunk = (id: string, rows: (string | null)[][], floor: bigint, snapshot: string, last: string | null, done = false): Promise<ChunkOutcome> =>
    streamer.window.expect({
      id,
      table: "public.late",
      rel,
      // As the snapshot reads rows: COPY text of the source's checksum, then the values.
      lines: rows.map((r) => [rowChecksum(["id", "v", "doc"], r), ...r.map(copyField)].join("\t")),
      keyIndexes: [0],
      floor,
      snapshot: parseTxSnapshot(snapshot),
      progress: { table: "public.late", done, lastKey: last === null ? null : [last], rows: rows.length },
    } satisfies LiveChunk);
  const watermark = (xid: number, lsn: bigint, id: string) => txn(xid, [[lsn, { tag: "message", transactional: true, lsn, prefix: WATERMARK_PREFIX, content: Buffer.from(id) }]]);
  const envelopes = (): Envelope[] => sent.map((r) => decodeEnvelope(r.value));
  return { streamer, txn, chunk, watermark, envelopes };
}

const row = (id: number, v: number): (string | null)[] => [String(id), String(v), "big"];
const insert = (id: number, v: number): PgoutputMessage => ({ tag: "insert", relationOid: OID, newTuple: row(id, v) });
const keepUpdate = (id: number, v: number): PgoutputMessage => ({ tag: "update", relationOid: OID, oldKind: null, oldTuple: null, newTuple: [String(id), String(v), UNCHANGED] });

describe("a live snapshot's chunks in the stream", () => {
  it("stamps a row with the newest change to it the read saw, when that is above the floor (else the target keeps the older change)", async () => {
    const s = setup(["0"]);
    // Floor 500. xid 10 inserts row 5 at 600 and commits; xid 11 updates it (TOAST kept) at 700: both seen by the read.
    await s.txn(10, [[600n, insert(5, 1)]]);
    await s.txn(11, [[700n, keepUpdate(5, 2)]]); // row 5 is past the last key read: held for its chunk
    const outcome = s.chunk("c1", [row(5, 2), row(6, 0)], 500n, "20:20:", "6");
    await s.watermark(12, 800n, "c1");
    expect(await outcome).toEqual({ emitted: 2 });
    const sent = s.envelopes();
    expect(sent.map((e) => [e.op, e.after?.["id"], e.after?.["v"]])).toEqual([
      ["c", "5", "1"],
      ["r", "5", "2"],
      ["r", "6", "0"],
    ]);
    expect(sent[1]?.source.lsn).toBe(formatLsn(700n)); // over the insert at 600, which the target holds
    expect(sent[2]?.source.lsn).toBe(formatLsn(500n)); // the floor, below every change the read missed
  });

  it("sends the rows at the floor in bulk records (source.snapshot.bulk), a row with a newer LSN alone", async () => {
    const s = setup(["0"], true);
    await s.txn(10, [[600n, insert(5, 1)]]); // seen by the read: row 5 carries its LSN
    const outcome = s.chunk("c1", [row(4, 0), row(5, 1), row(6, 0)], 500n, "20:20:", "6");
    await s.watermark(12, 800n, "c1");
    expect(await outcome).toEqual({ emitted: 3 });
    const [change, bulk, alone] = s.envelopes();
    expect(change?.op).toBe("c");
    expect(bulk?.rows?.count).toBe(2);
    expect(bulk?.source.lsn).toBe(formatLsn(500n));
    const rows = parseBulkRows(bulk as Envelope);
    expect(rows.map((r) => [r.key, r.values])).toEqual([
      ['{"id":"4"}', row(4, 0)],
      ['{"id":"6"}', row(6, 0)],
    ]);
    expect(rows[0]?.checksum).toBe(rowChecksum(["id", "v", "doc"], row(4, 0)));
    expect([alone?.op, alone?.after?.["id"], alone?.source.lsn]).toEqual(["r", "5", formatLsn(600n)]);
    expect(new Set([bulk?.source.seq, alone?.source.seq]).size).toBe(2);
  });

  it("leaves out a row that a transaction the read did not see changed before the watermark", async () => {
    const s = setup(["0"]);
    await s.txn(30, [[600n, insert(7, 9)]]); // xid 30 is at the read's xmax: not seen
    const outcome = s.chunk("c1", [row(6, 0), row(7, 1)], 500n, "20:30:", "7");
    await s.watermark(31, 800n, "c1");
    expect(await outcome).toEqual({ emitted: 1 });
    expect(s.envelopes().map((e) => [e.op, e.after?.["id"]])).toEqual([
      ["c", "7"],
      ["r", "6"],
    ]);
  });

  it("reads the chunk again when a TOAST-keeping update it did not see concerns a row of its range, even one it did not read", async () => {
    const s = setup(["0"]);
    // After the read (xmax 30): xid 30 inserts row 4 (in the chunk's range, not read), xid 31 updates it keeping its TOAST value.
    await s.txn(30, [[600n, insert(4, 1)]]);
    await s.txn(31, [[650n, keepUpdate(4, 2)]]);
    const outcome = s.chunk("c1", [row(6, 0)], 500n, "20:30:", "6");
    await s.watermark(32, 800n, "c1");
    expect(await outcome).toMatchObject({ retry: expect.stringMatching(/row \{"id":"4"\} was updated at 0\/28A, leaving a TOAST value unchanged/) });
    expect(s.envelopes().map((e) => e.op)).toEqual(["c"]); // the held update was not sent, nor the chunk
    // Read again after both: now seen, the row brings the update.
    const again = s.chunk("c2", [row(4, 2), row(6, 0)], 900n, "40:40:", "6");
    await s.watermark(41, 1000n, "c2");
    expect(await again).toEqual({ emitted: 2 });
    expect(s.envelopes().slice(1).map((e) => [e.op, e.after?.["id"], e.after?.["v"]])).toEqual([
      ["r", "4", "2"],
      ["r", "6", "0"],
    ]);
  });

  it("keeps holding a TOAST-keeping update of a row past the chunk: a later read sees it", async () => {
    const s = setup(["0"]);
    await s.txn(30, [[650n, keepUpdate(50, 2)]]); // not seen by this read, but row 50 is past its last key (6)
    const outcome = s.chunk("c1", [row(6, 0)], 500n, "20:30:", "6");
    await s.watermark(32, 800n, "c1");
    expect(await outcome).toEqual({ emitted: 1 });
  });

  it("reads the chunk again after a truncate above its floor", async () => {
    const s = setup(["0"]);
    await s.txn(30, [[600n, { tag: "truncate", relationOids: [OID], cascade: false, restartIdentity: false }]]);
    const outcome = s.chunk("c1", [row(6, 0)], 500n, "40:40:", "6");
    await s.watermark(41, 800n, "c1");
    expect(await outcome).toMatchObject({ retry: expect.stringMatching(/a truncate at 0\/258 came after the read/) });
  });

  it("refuses a chunk or a checkpoint once the stream has stopped", async () => {
    const s = setup(null);
    await s.streamer.stop();
    await expect(s.chunk("c1", [], 1n, "1:1:", null)).rejects.toThrow(/stream ended/);
    await expect(s.streamer.checkpoint()).rejects.toThrow(/stream ended/);
  });
});
