// DatabaseGroupCommit: which batches share a transaction, how many run at once, and what a failure does.
import { describe, expect, it } from "vitest";
import { DatabaseGroupCommit } from "./database-group-commit.js";

interface B {
  readonly id: string;
  readonly partition: number;
  readonly live?: boolean;
}

/** A DatabaseGroupCommit whose transactions are recorded and finish when `finish()` is called. */
function harness(opts: { slots?: number; fail?: (batches: readonly B[]) => Error | null; isolate?: boolean } = {}) {
  const transactions: string[][] = [];
  const open: (() => void)[] = [];
  let running = 0;
  let maxRunning = 0;
  const gc = new DatabaseGroupCommit<B, string>({
    slots: opts.slots ?? 1,
    group: () => {
      const taken = new Set<number>();
      return { join: (b) => !taken.has(b.partition) && taken.add(b.partition) !== undefined };
    },
    commit: async (batches) => {
      transactions.push(batches.map((b) => b.id));
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise<void>((r) => open.push(r));
      running--;
      const err = opts.fail?.(batches) ?? null;
      if (err !== null) throw err;
      return batches.map((b) => `done ${b.id}`);
    },
    isolate: () => opts.isolate ?? false,
    live: (b) => b.live !== false,
  });
  /** Lets every open transaction finish, until none is left. */
  const finish = async () => {
    for (let turns = 0; turns < 100; turns++) {
      await new Promise((r) => setImmediate(r));
      const o = open.splice(0);
      if (o.length === 0 && turns > 2) return;
      for (const r of o) r();
    }
  };
  return { gc, transactions, finish, maxRunning: () => maxRunning };
}

describe("DatabaseGroupCommit", () => {
  it("puts the batches handed over together in one transaction, and those that may not join in the next", async () => {
    const h = harness();
    const results = Promise.all([h.gc.write({ id: "a", partition: 0 }), h.gc.write({ id: "b", partition: 1 }), h.gc.write({ id: "c", partition: 0 })]);
    await h.finish();
    expect(await results).toEqual(["done a", "done b", "done c"]);
    expect(h.transactions).toEqual([["a", "b"], ["c"]]);
  });

  it("runs at most `slots` transactions at once, and batches arriving meanwhile wait for a slot", async () => {
    const h = harness({ slots: 2 });
    const first = [h.gc.write({ id: "a", partition: 0 })];
    await new Promise((r) => setImmediate(r)); // a's transaction starts alone
    const later = [h.gc.write({ id: "b", partition: 1 })];
    await new Promise((r) => setImmediate(r)); // b's starts in the second slot
    later.push(h.gc.write({ id: "c", partition: 2 }), h.gc.write({ id: "d", partition: 3 }));
    await h.finish();
    expect(await Promise.all([...first, ...later])).toEqual(["done a", "done b", "done c", "done d"]);
    expect(h.transactions).toEqual([["a"], ["b"], ["c", "d"]]);
    expect(h.maxRunning()).toBe(2);
  });

  it("answers null for a batch that is no longer live, without writing it", async () => {
    const h = harness();
    const results = Promise.all([h.gc.write({ id: "a", partition: 0, live: false }), h.gc.write({ id: "b", partition: 1 })]);
    await h.finish();
    expect(await results).toEqual([null, "done b"]);
    expect(h.transactions).toEqual([["b"]]);
  });

  it("rejects every batch of a failed transaction when isolating would not help", async () => {
    const h = harness({ fail: () => new Error("target away") });
    const results = [h.gc.write({ id: "a", partition: 0 }), h.gc.write({ id: "b", partition: 1 })].map((p) => p.then(String, (e: Error) => e.message));
    await h.finish();
    expect(await Promise.all(results)).toEqual(["target away", "target away"]);
    expect(h.transactions).toEqual([["a", "b"]]);
  });

  it("tries the batches of a failed shared transaction one by one when told to: only the bad one fails", async () => {
    const h = harness({ isolate: true, fail: (bs) => (bs.some((b) => b.id === "b") ? new Error("check constraint") : null) });
    const results = ["a", "b", "c"].map((id, partition) => h.gc.write({ id, partition }).then(String, (e: Error) => e.message));
    await h.finish();
    expect(await Promise.all(results)).toEqual(["done a", "check constraint", "done c"]);
    expect(h.transactions).toEqual([["a", "b", "c"], ["a"], ["b"], ["c"]]);
  });

  it("rejects when a transaction returns a result count other than its batch count", async () => {
    const gc = new DatabaseGroupCommit<B, string>({ slots: 1, group: () => ({ join: () => true }), commit: async () => ["one"], isolate: () => false });
    const results = [gc.write({ id: "a", partition: 0 }), gc.write({ id: "b", partition: 1 })].map((p) => p.then(String, (e: Error) => e.message));
    expect(await Promise.all(results)).toEqual(["a group commit returned 1 results for 2 batches", "a group commit returned 1 results for 2 batches"]);
  });

  it("with lingerMs, batches written within it join one transaction though they came in separate turns", async () => {
    const transactions: string[][] = [];
    const gc = new DatabaseGroupCommit<B, string>({
      slots: 1,
      lingerMs: 200,
      group: () => ({ join: () => true }),
      commit: async (batches) => {
        transactions.push(batches.map((b) => b.id));
        return batches.map((b) => b.id);
      },
      isolate: () => false,
    });
    const first = gc.write({ id: "a", partition: 0 });
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const second = gc.write({ id: "b", partition: 1 });
    expect(await Promise.all([first, second])).toEqual(["a", "b"]);
    expect(transactions).toEqual([["a", "b"]]);
  });
});
