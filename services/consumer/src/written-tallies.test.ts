// Written tallies: per window, replays apart, and `after` telling the counter where the
// applied position stood, so a record the consumer passed over can be proven missing.
import { describe, expect, it } from "vitest";
import { APPLIED, DUPLICATE, QUARANTINED, talliesOf } from "./written-tallies.js";

const batch = (offsets: number[]) => ({ topic: "zl.public.a", partition: 2, plan: { records: offsets.map((o) => ({ offset: String(o) })) } });

describe("talliesOf", () => {
  it("counts per window and chains `after` from the applied position through the batch's windows", () => {
    const { tallies, replayed } = talliesOf(batch([8, 9, 11, 12, 21]), Uint8Array.from([APPLIED, DUPLICATE, APPLIED, QUARANTINED, APPLIED]), 10, 8n);
    expect(replayed).toBe(0);
    expect(tallies.map((t) => [t.windowStart, t.firstOffset, t.lastOffset, t.count, t.after, t.replay])).toEqual([
      [0, 8, 9, 2, 8, undefined],
      [10, 11, 12, 2, 10, undefined],
      [20, 21, 21, 1, 13, undefined],
    ]);
    expect(tallies[1]?.detail).toEqual({ applied: 1, duplicate: 0, quarantined: 1 });
  });

  it("a batch starting above the applied position says so: the counter proves the records in between missing", () => {
    const { tallies } = talliesOf(batch([176, 177]), Uint8Array.from([APPLIED, APPLIED]), 1000, 175n);
    expect(tallies).toHaveLength(1);
    expect(tallies[0]).toMatchObject({ firstOffset: 176, lastOffset: 177, after: 175 });
  });

  it("replayed offsets get replay tallies without `after`; the rest start at the applied position", () => {
    const { tallies, replayed } = talliesOf(batch([3, 4, 5, 7]), Uint8Array.from([DUPLICATE, DUPLICATE, DUPLICATE, APPLIED]), 10, 6n);
    expect(replayed).toBe(3);
    expect(tallies.map((t) => [t.firstOffset, t.lastOffset, t.replay ?? false, t.after])).toEqual([
      [3, 5, true, undefined],
      [7, 7, false, 6],
    ]);
  });

  it("counts rows apart from records: a bulk record with one bad row quarantines one row and applies the rest", () => {
    const recordRows = { rows: [1, 500, 300, 1], quarantined: [0, 1, 0, 1] };
    const { tallies } = talliesOf(batch([10, 11, 12, 13]), Uint8Array.from([APPLIED, QUARANTINED, DUPLICATE, QUARANTINED]), 100, 10n, recordRows);
    expect(tallies).toHaveLength(1);
    expect(tallies[0]).toMatchObject({ count: 4, rows: 802, detail: { applied: 1, duplicate: 1, quarantined: 2 }, rowDetail: { applied: 500, duplicate: 300, quarantined: 2 } });
  });
});
