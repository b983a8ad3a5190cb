// Snapshot modes and the lost-slot path: initial_only snapshots and stops (slot dropped),
// never streams without reading existing rows, a slot gone missing stops the producer with
// SLOT_MISSING and the re-snapshot hint, and --resnapshot brings it back.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { pollUntil } from "@zeroloss/devstack";
import { dropSlot, slotStatus } from "@zeroloss/pg";
import { producerFixture, waitForRecords, type ProducerFixture, type RunningProducer } from "./harness.js";

const stack = inject("stack");

describe("producer: snapshot mode initial_only", () => {
  let f: ProducerFixture;
  beforeAll(async () => {
    f = await producerFixture(stack, "initonly", { source: { snapshot: { mode: "initial_only", chunkSize: 3 } } });
    await f.sql.query(`CREATE TABLE public.items (id int PRIMARY KEY, name text)`);
    await f.sql.query(`INSERT INTO public.items SELECT g, 'item ' || g FROM generate_series(1, 10) g`);
  });
  afterAll(async () => f?.close());

  it("snapshots every row, drops the slot and exits 0; a second run has nothing to do", async () => {
    const p = await f.start();
    expect(await p.exitWithin(60_000)).toBe(0);
    const recs = await f.records("public.items");
    expect(recs.map((r) => Number(r.envelope.after?.["id"])).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect((await slotStatus(f.sql, f.slot)).exists).toBe(false);
    const again = await f.start();
    expect(await again.exitWithin(60_000)).toBe(0);
    expect((await f.records("public.items")).length).toBe(10);
  });
});

describe("producer: snapshot mode never", () => {
  let f: ProducerFixture;
  let p: RunningProducer;
  beforeAll(async () => {
    f = await producerFixture(stack, "nosnap", { source: { snapshot: { mode: "never" } } });
    await f.sql.query(`CREATE TABLE public.items (id int PRIMARY KEY, name text)`);
    await f.sql.query(`INSERT INTO public.items VALUES (1, 'before')`);
  });
  afterAll(async () => {
    await p?.stop();
    await f?.close();
  });

  it("streams changes from the slot's creation on, without reading existing rows", async () => {
    p = await f.start();
    await waitForSlot(f, p);
    await f.sql.query(`INSERT INTO public.items VALUES (2, 'after')`);
    const recs = await waitForRecords(f, "public.items", 1, p);
    expect(recs.map((r) => [r.envelope.op, r.envelope.after?.["id"]])).toEqual([["c", "2"]]);
  });
});

describe("producer: a slot that disappeared", () => {
  let f: ProducerFixture;
  let p: RunningProducer;
  beforeAll(async () => {
    f = await producerFixture(stack, "lostslot");
    await f.sql.query(`CREATE TABLE public.items (id int PRIMARY KEY, name text)`);
    await f.sql.query(`INSERT INTO public.items VALUES (1, 'one'), (2, 'two')`);
  });
  afterAll(async () => {
    await p?.stop();
    await f?.close();
  });

  it("stops with SLOT_MISSING and the re-snapshot hint; --resnapshot snapshots again and streams on", async () => {
    p = await f.start();
    await waitForRecords(f, "public.items", 2, p);
    expect(await p.stop()).toBe(0);
    await dropSlot(f.sql, f.slot);
    await f.sql.query(`INSERT INTO public.items VALUES (3, 'while the slot was gone')`);

    p = await f.start();
    expect(await p.exitWithin(60_000)).toBe(1);
    expect(p.output()).toContain("SLOT_MISSING");
    expect(p.output()).toContain("--resnapshot");

    p = await f.start(["--resnapshot"]);
    const recs = await waitForRecords(f, "public.items", 2 + 3, p);
    // Two snapshots: rows 1 and 2 twice, row 3 (written while the slot was gone) once.
    expect(recs.every((r) => r.envelope.op === "r")).toBe(true);
    expect(recs.map((r) => r.envelope.after?.["id"]).sort()).toEqual(["1", "1", "2", "2", "3"]);
    await f.sql.query(`UPDATE public.items SET name = 'streamed' WHERE id = 1`);
    const after = await waitForRecords(f, "public.items", 6, p);
    expect(after.filter((r) => r.envelope.op === "u").map((r) => r.envelope.after?.["name"])).toEqual(["streamed"]);
  });
});

async function waitForSlot(f: ProducerFixture, p: RunningProducer): Promise<void> {
  await pollUntil(async () => ((await slotStatus(f.sql, f.slot)).active ? true : undefined), {
    timeoutMs: 60_000,
    what: `slot ${f.slot} to be streamed from`,
    abortIf: () => {
      if (p.proc.exitCode !== null) throw new Error(`producer exited with ${p.proc.exitCode}:\n${p.output()}`);
    },
  }).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\nproducer output:\n${p.output().slice(-3000)}`);
  });
}
