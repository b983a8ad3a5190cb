// What the streamer acknowledges, and when (DESIGN.md invariants 1 and 10): never a
// position past the newest checkpoint committed to Kafka. Positions reached without
// records (a keepalive's WAL end, a transaction with nothing to publish) are made durable
// with a checkpoint-only Kafka transaction first, at most one per IDLE_CHECKPOINT_MS.
// Driven by hand, without a server or a broker; time is vitest's fake clock.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { formatLsn, type PgoutputMessage } from "@zeroloss/pg";
import { topicNames, type Checkpoint, type Manifest } from "@zeroloss/wire";
import { relationSchema } from "./envelopes.js";
import type { DataRecord, KafkaWriter } from "./kafka-writer.js";
import { testStreamerOptions } from "./streamer-test-options.js";
import { IDLE_CHECKPOINT_MS, Streamer } from "./streamer.js";

const topics = topicNames("zl");
const OID = 7;
const rel = relationSchema(topics, OID, "public", "items", [
  { name: "id", type: "integer", typeOid: 23, typmod: -1, key: true, attnum: 1 },
]);
const START = 1000n;

interface Commit {
  readonly manifests: readonly Manifest[];
  readonly checkpoint: Checkpoint;
  land(): void;
}

/** A streamer whose Kafka commits land when the test says, and whose acknowledgements are recorded. */
function setup() {
  const commits: Commit[] = [];
  /** Every acknowledgement, with the newest checkpoint landed in Kafka at that moment. */
  const acks: { lsn: bigint; landed: bigint }[] = [];
  let landed = START;
  let committing = 0;
  let records = 0;
  const writer = {
    get open() {
      return records > 0 || committing > 0;
    },
    get recordsInTransaction() {
      return records;
    },
    age: 0,
    add: async (_r: DataRecord) => void records++,
    commit: (manifests: readonly Manifest[], checkpoint: Checkpoint) => {
      records = 0;
      committing++;
      return new Promise<void>((resolve) => {
        commits.push({
          manifests,
          checkpoint,
          land: () => {
            committing--;
            const lsn = BigInt(`0x${checkpoint.lsn.split("/")[1]}`);
            if (lsn > landed) landed = lsn;
            resolve();
          },
        });
      });
    },
    partitionCount: () => 1,
  } as unknown as KafkaWriter;
  const streamer = new Streamer(testStreamerOptions(topics, writer), START);
  const internals = streamer as unknown as {
    failure: (e: unknown) => void;
    stream: unknown;
    relations: Map<number, unknown>;
    handle(l: string, m: PgoutputMessage): Promise<void>;
    keepalive(walEnd: bigint, reply: boolean, quiet: boolean): Promise<void>;
    chain: Promise<void>;
  };
  let failed: unknown = null;
  internals.failure = (e) => void (failed = e); // as run() would: the stream is up
  internals.stream = { acknowledge: async (lsn: bigint) => void acks.push({ lsn, landed }), stop: async () => undefined };
  internals.relations.set(OID, rel);
  const handle = (lsn: bigint, msg: PgoutputMessage) => internals.handle(formatLsn(lsn), msg);
  /** One source transaction ending at endLsn; `rows` inserts of the published table (0: nothing to publish). */
  const txn = async (endLsn: bigint, rows: number) => {
    await handle(endLsn - 20n, { tag: "begin", finalLsn: endLsn - 1n, commitTime: 0n, xid: Number(endLsn) });
    for (let i = 0; i < rows; i++) await handle(endLsn - 10n, { tag: "insert", relationOid: OID, newTuple: [String(endLsn + BigInt(i))] });
    await handle(endLsn - 1n, { tag: "commit", commitLsn: endLsn - 1n, endLsn, commitTime: 0n });
  };
  const keepalive = (walEnd: bigint, reply = false) => internals.keepalive(walEnd, reply, true);
  /** Lets queued work (the serial chain, landed commits) run. */
  const settle = async () => {
    for (let i = 0; i < 20; i++) await vi.advanceTimersByTimeAsync(0);
    await internals.chain;
  };
  const never = () => {
    for (const a of acks) expect(a.lsn, `acknowledged ${formatLsn(a.lsn)} with the checkpoint in Kafka at ${formatLsn(a.landed)}`).toBeLessThanOrEqual(a.landed);
    expect(failed).toBeNull();
  };
  return { streamer, commits, acks, txn, keepalive, settle, never };
}

describe("streamer acknowledgements", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("a keepalive's WAL end while drained: a checkpoint-only Kafka transaction first, the acknowledgement after it lands", async () => {
    const s = setup();
    await s.keepalive(2000n);
    await s.settle();
    expect(s.commits).toHaveLength(1);
    expect(s.commits[0]?.manifests).toEqual([]);
    expect(s.commits[0]?.checkpoint).toMatchObject({ lsn: formatLsn(2000n), phase: "streaming" });
    expect(s.acks).toEqual([]);
    s.commits[0]?.land();
    await s.settle();
    expect(s.acks.map((a) => a.lsn)).toEqual([2000n]);
    expect(s.streamer.durableLsn).toBe(2000n);
    s.never();
  });

  it("a transaction with nothing to publish is acknowledged only behind a checkpoint", async () => {
    const s = setup();
    await s.txn(1500n, 0);
    await s.settle();
    expect(s.acks).toEqual([]);
    expect(s.commits.map((c) => c.checkpoint.lsn)).toEqual([formatLsn(1500n)]);
    s.commits[0]?.land();
    await s.settle();
    expect(s.acks.map((a) => a.lsn)).toEqual([1500n]);
    s.never();
  });

  it("at most one checkpoint-only transaction per IDLE_CHECKPOINT_MS; a keepalive wanting a reply gets the durable position", async () => {
    const s = setup();
    await s.keepalive(2000n);
    await s.settle();
    s.commits[0]?.land();
    await s.settle();
    // Keepalives keep coming with a higher WAL end: no new Kafka transaction within the interval.
    for (const walEnd of [2100n, 2200n, 2300n]) {
      await s.keepalive(walEnd, true);
      await vi.advanceTimersByTimeAsync(100);
    }
    await s.settle();
    expect(s.commits).toHaveLength(1);
    expect(s.acks.map((a) => a.lsn)).toEqual([2000n, 2000n, 2000n, 2000n]); // the replies: durable, not the WAL end
    await vi.advanceTimersByTimeAsync(IDLE_CHECKPOINT_MS);
    await s.settle();
    expect(s.commits.map((c) => c.checkpoint.lsn)).toEqual([formatLsn(2000n), formatLsn(2300n)]);
    s.commits[1]?.land();
    await s.settle();
    expect(s.streamer.durableLsn).toBe(2300n);
    s.never();
  });

  it("data, then nothing to publish during the commit: the data commit's checkpoint first, then one covering the rest", async () => {
    const s = setup();
    await s.txn(1500n, 2);
    await s.settle();
    expect(s.commits).toHaveLength(1); // lingerMs 0: committed at once
    await s.txn(1600n, 0); // ends while that commit is in flight
    await s.keepalive(1700n); // not drained: a commit is in flight
    await s.settle();
    expect(s.commits).toHaveLength(1);
    s.commits[0]?.land();
    await s.settle();
    expect(s.acks.map((a) => a.lsn)).toEqual([1500n]);
    await vi.advanceTimersByTimeAsync(IDLE_CHECKPOINT_MS);
    await s.settle();
    expect(s.commits.map((c) => c.checkpoint.lsn)).toEqual([formatLsn(1500n), formatLsn(1600n)]);
    s.commits[1]?.land();
    await s.settle();
    expect(s.acks.map((a) => a.lsn)).toEqual([1500n, 1600n]);
    s.never();
  });

  it("a transaction the checkpoint already covers is acknowledged without a Kafka transaction", async () => {
    const s = setup();
    // The stream resumes at START; PostgreSQL sends a transaction that ends before it again.
    await s.txn(START - 100n, 1);
    await s.settle();
    expect(s.commits).toEqual([]);
    expect(s.streamer.durableLsn).toBe(START);
    s.never();
  });
});
