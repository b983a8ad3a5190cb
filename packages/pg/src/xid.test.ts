import { describe, expect, it } from "vitest";
import { committedVisibleIn, parseTxSnapshot, widenXid } from "./xid.js";

describe("transaction snapshots", () => {
  it("parses pg_current_snapshot()'s text, with and without running transactions", () => {
    expect(parseTxSnapshot("10:20:12,15")).toEqual({ xmin: 10n, xmax: 20n, xip: new Set([12n, 15n]) });
    expect(parseTxSnapshot("742:742:")).toEqual({ xmin: 742n, xmax: 742n, xip: new Set() });
    expect(() => parseTxSnapshot("10:20")).toThrow(/not a transaction snapshot/);
  });

  it("sees committed transactions below xmax that were not running, and nothing at or above xmax", () => {
    const s = parseTxSnapshot("10:20:12,15");
    expect([9, 10, 11, 13, 19].map((x) => committedVisibleIn(s, x))).toEqual([true, true, true, true, true]);
    expect([12, 15, 20, 21].map((x) => committedVisibleIn(s, x))).toEqual([false, false, false, false]);
  });

  it("widens a 32-bit xid across an epoch boundary in both directions", () => {
    const epoch1 = 1n << 32n;
    expect(widenXid(5, epoch1 + 10n)).toBe(epoch1 + 5n);
    expect(widenXid(0xfffffffe, epoch1 + 10n)).toBe(epoch1 - 2n); // from the end of the previous epoch
    expect(widenXid(3, epoch1 - 2n)).toBe(epoch1 + 3n); // already in the next epoch
    const s = parseTxSnapshot(`${epoch1 - 5n}:${epoch1 + 2n}:${epoch1 - 3n}`);
    expect(committedVisibleIn(s, 0xfffffffa)).toBe(true);
    expect(committedVisibleIn(s, 0xfffffffd)).toBe(false); // running
    expect(committedVisibleIn(s, 1)).toBe(true);
    expect(committedVisibleIn(s, 2)).toBe(false); // at xmax
  });
});
