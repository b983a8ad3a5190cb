import { describe, expect, it } from "vitest";
import type { PartitionSummary, Summary } from "@zeroloss/wire";
import { decideDrain, sameEnds, type DrainObservation } from "./drain.js";

const T = "zl.public.payments";

function partition(over: Partial<PartitionSummary> = {}): PartitionSummary {
  return {
    topic: T,
    partition: 0,
    highWatermark: 20,
    readTo: 19,
    counterLag: 1,
    emitted: 10,
    transferred: 10,
    written: 10,
    rows: { emitted: 10, transferred: 10, written: 10 },
    kafkaLag: 0,
    targetLag: 0,
    lastBalancedOffset: 19,
    ...over,
  };
}

function summary(over: Partial<Summary> = {}): Summary {
  const rows = { emitted: 10, transferred: 10, applied: 10, duplicate: 0, quarantined: 0 };
  return {
    at: "2026-12-06T00:00:00Z",
    graceSeconds: 60,
    totals: { ...rows, replayed: 0, rows },
    windows: { open: 1, behind: 0, balanced: 0, attention: 0, mismatch: 0, replayed: 0 },
    transactions: { pending: 0, incomplete: 0, complete: 0, applied: 10 },
    oldestUnbalancedSeconds: null,
    partitions: [partition()],
    needsAttention: [],
    slot: { state: "ok", slot: "zl", detail: null, aheadBytes: 0, checkedAt: null },
    problems: [],
    ok: true,
    ...over,
  };
}

function drained(over: Partial<DrainObservation> = {}): DrainObservation {
  return {
    fenceLsn: "0/3000000",
    slot: { name: "zl", exists: true, confirmedFlushLsn: "0/3000010", walStatus: "reserved" },
    ends: [{ topic: T, partition: 0, end: 20n }],
    applied: new Map([[`${T}:0`, 19n]]),
    summary: summary(),
    counterError: null,
    quarantine: { count: 0, sample: [] },
    exact: true,
    ...over,
  };
}

describe("decideDrain", () => {
  it("is drained when the slot passed the fence, the consumer and the counter reached the ends and the ledger balances", () => {
    expect(decideDrain(drained())).toEqual({ state: "drained", waitingFor: [], problems: [] });
  });

  it("waits for the producer while the slot is short of the fence, naming both positions", () => {
    const v = decideDrain(drained({ slot: { name: "zl", exists: true, confirmedFlushLsn: "0/2FFFFF0", walStatus: "reserved" }, ends: null }));
    expect(v.state).toBe("waiting");
    expect(v.waitingFor[0]).toContain("0/2FFFFF0");
    expect(v.waitingFor[0]).toContain("0/3000000");
    expect(v.waitingFor[0]).toContain("16 bytes to go");
  });

  it("waits for the consumer and the counter below a partition's end (end − 1 is the last commit marker)", () => {
    const v = decideDrain(drained({ applied: new Map([[`${T}:0`, 18n]]), summary: summary({ partitions: [partition({ readTo: 17 })] }) }));
    expect(v.state).toBe("waiting");
    expect(v.waitingFor).toEqual([
      `the consumer: ${T}[0] applied up to offset 18, the fence's records end at 20`,
      `the counter: ${T}[0] read up to offset 17, the fence's records end at 20`,
    ]);
  });

  it("waits for a consumer that has applied nothing yet, and ignores empty partitions", () => {
    const v = decideDrain(drained({ applied: null, ends: [{ topic: T, partition: 0, end: 20n }, { topic: T, partition: 1, end: 0n }] }));
    expect(v.waitingFor).toEqual([`the consumer: ${T}[0] applied up to offset 0, the fence's records end at 20`]);
  });

  it("at a fenced cut waits for every count to agree; a rehearsal asks only up to the ends", () => {
    const behind = summary({
      totals: { emitted: 12, transferred: 11, applied: 10, duplicate: 0, quarantined: 0, replayed: 0, rows: { emitted: 12, transferred: 11, applied: 10, duplicate: 0, quarantined: 0 } },
      windows: { open: 0, behind: 1, balanced: 0, attention: 0, mismatch: 0, replayed: 0 },
      transactions: { pending: 1, incomplete: 0, complete: 1, applied: 10 },
    });
    const exact = decideDrain(drained({ summary: behind }));
    expect(exact.state).toBe("waiting");
    expect(exact.waitingFor).toEqual([
      "the counter: records emitted 12, found in Kafka 11, written 10",
      "the counter: 1 window(s) behind",
      "the counter: 1 source transaction(s) pending",
      "the counter: 1 source transaction(s) in Kafka but not yet applied",
    ]);
    expect(decideDrain(drained({ summary: behind, exact: false })).state).toBe("drained");
  });

  it("fails at once, naming table, offset and reason, when anything is quarantined", () => {
    const v = decideDrain(
      drained({ quarantine: { count: 2, sample: [{ table: "public.payments", topic: T, partition: "0", offset: "7", code: "CHECKSUM_MISMATCH", reason: "amount differs" }] } }),
    );
    expect(v.state).toBe("failed");
    expect(v.problems[0]).toBe(`2 record(s) quarantined in the target's zeroloss.quarantine, never applied: public.payments at ${T}[0] offset 7: CHECKSUM_MISMATCH: amount differs; and 1 more`);
  });

  it("fails on what the counter proved (mismatch, quarantine, incomplete transactions, a slot ahead) and on a missing or lost slot", () => {
    const bad = summary({
      totals: { emitted: 10, transferred: 10, applied: 9, duplicate: 0, quarantined: 1, replayed: 0, rows: { emitted: 10, transferred: 10, applied: 9, duplicate: 0, quarantined: 1 } },
      windows: { open: 0, behind: 0, balanced: 0, attention: 1, mismatch: 2, replayed: 0 },
      transactions: { pending: 0, incomplete: 3, complete: 0, applied: 7 },
      problems: ["slot zl is ahead of the producer's checkpoint"],
      ok: false,
    });
    expect(decideDrain(drained({ summary: bad })).problems).toHaveLength(4);
    expect(decideDrain(drained({ slot: { name: "zl", exists: false, confirmedFlushLsn: null, walStatus: null } })).problems[0]).toContain("does not exist");
    expect(decideDrain(drained({ slot: { name: "zl", exists: true, confirmedFlushLsn: "0/3000010", walStatus: "lost" } })).problems[0]).toContain("lost");
  });

  it("waits while the counter cannot be read, saying why", () => {
    const v = decideDrain(drained({ summary: null, counterError: "the counter at http://127.0.0.1:9400 cannot be reached: fetch failed" }));
    expect(v.state).toBe("waiting");
    expect(v.waitingFor).toEqual(["the counter: the counter at http://127.0.0.1:9400 cannot be reached: fetch failed"]);
  });
});

describe("sameEnds", () => {
  it("compares partitions and offsets, in any order", () => {
    const a = [
      { topic: T, partition: 0, end: 5n },
      { topic: T, partition: 1, end: 7n },
    ];
    expect(sameEnds(a, [...a].reverse())).toBe(true);
    expect(sameEnds(a, [{ topic: T, partition: 0, end: 5n }, { topic: T, partition: 1, end: 8n }])).toBe(false);
    expect(sameEnds(a, null)).toBe(false);
  });
});
