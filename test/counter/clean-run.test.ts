// No false alarm under load: pgbench (4 clients, full speed) against the source while the
// producer, consumer and counter run. Every second the test reads /api/summary and runs
// `zeroloss status`; not one sample may show a window in mismatch, an incomplete transaction,
// ok: false or exit 1 (records on their way are "behind", never a problem). At the end the
// ledger settles, balanced, at exactly the number of records Kafka holds. The grace period is
// 1 s, so a counter that timed lag into mismatches would fail within seconds; the slot is
// compared with the producer's checkpoint every second, and a running producer must never
// look ahead of its own checkpoint.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { findPostgresBinDir } from "@zeroloss/devstack";
import { sourceClient, waitForEqual, type TableSpec } from "../consumer/harness.js";
import type { RunningProducer } from "../producer/harness.js";
import { counterFixture, waitForSummary, type CounterFixture, type RunningCounter, type SummaryBody } from "./harness.js";

const PGBENCH_SECONDS = 40;
const TABLES: TableSpec[] = [
  { name: "public.pgbench_accounts", columns: ["aid", "bid", "abalance", "filler"], key: ["aid"] },
  { name: "public.pgbench_branches", columns: ["bid", "bbalance", "filler"], key: ["bid"] },
  { name: "public.pgbench_tellers", columns: ["tid", "bid", "tbalance", "filler"], key: ["tid"] },
  { name: "public.pgbench_history", columns: ["hid", "tid", "bid", "aid", "delta", "mtime", "filler"], key: ["hid"] },
];

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (b: Buffer) => (out += b.toString()));
    p.stderr.on("data", (b: Buffer) => (out += b.toString()));
    p.on("error", reject);
    p.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${out.slice(-2000)}`))));
  });
}

describe("counter under pgbench load: no false alarm at any sampled second", () => {
  let f: CounterFixture;
  let src: pg.Client;
  let producer: RunningProducer;
  let consumer: RunningProducer;
  let counter: RunningCounter;

  beforeAll(async () => {
    // A grace period of 1 s: age alone must never turn lag into an alarm (it did before 2026-12).
    f = await counterFixture(inject("stack"), "ctrclean", { tallies: { windowSize: 1000 }, counter: { graceSeconds: 1, slotCheckSeconds: 1 } });
    src = await sourceClient(f);
    const pgbench = join(findPostgresBinDir(process.env), "pgbench");
    await run(pgbench, ["-i", "-s", "1", "-q", f.db.url]);
    await src.query(`ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY`);
    producer = await f.start();
    consumer = await f.startConsumer();
    counter = await f.startCounter();
    // pgbench_history starts empty: its target table is created with its first record.
    await waitForEqual(f, src, TABLES.slice(0, 3), [producer, consumer], 120_000);
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
  });

  it("samples every second during pgbench and the drain: never a mismatch, never exit 1; then balanced", async () => {
    const pgbench = join(findPostgresBinDir(process.env), "pgbench");
    const load = run(pgbench, ["-n", "-c", "4", "-j", "2", "-T", String(PGBENCH_SECONDS), f.db.url]);
    // Until pgbench ends and the pipeline has drained (the target equal to the source).
    let drained = false;
    let failed = false;
    const drain = (async () => {
      await load;
      await waitForEqual(f, src, TABLES, [producer, consumer], 180_000);
    })();
    drain.then(
      () => (drained = true),
      () => (failed = true),
    );
    const bad: string[] = [];
    // /api/summary every second (what the dashboard and alerts read) ...
    const summaries: SummaryBody[] = [];
    const sampleSummaries = (async () => {
      while (!drained && !failed) {
        const started = Date.now();
        const s = await counter.api<SummaryBody>("/api/summary");
        if (s === null) bad.push(`${new Date(started).toISOString()}: no summary`);
        else {
          summaries.push(s);
          if (!s.ok || s.windows.mismatch > 0 || s.windows.attention > 0 || s.transactions.incomplete > 0) {
            bad.push(`${s.at}: ok ${s.ok}, windows ${JSON.stringify(s.windows)}, transactions ${JSON.stringify(s.transactions)}, ${JSON.stringify(s.needsAttention.slice(0, 2))}`);
          }
        }
        await new Promise((r) => setTimeout(r, Math.max(0, 1_000 - (Date.now() - started))));
      }
    })();
    // ... and `zeroloss status` back to back (a process start takes about a second here).
    let statusRuns = 0;
    const sampleStatus = (async () => {
      while (!drained && !failed) {
        const st = await f.status(counter);
        statusRuns++;
        if (st.code !== 0) bad.push(`status exit ${st.code}: ${st.stdout.split("\n").slice(0, 6).join(" | ")}${st.stderr}`);
      }
    })();
    await Promise.all([sampleSummaries, sampleStatus]);
    await drain;
    expect(bad, bad.slice(0, 5).join("\n")).toEqual([]);
    // Samples all along (a busy 2-core machine answers slower than once a second).
    expect(summaries.length).toBeGreaterThan(PGBENCH_SECONDS / 3);
    expect(statusRuns).toBeGreaterThan(5);
    expect(summaries.filter((x) => x.slot.state === "ok").length).toBeGreaterThan(PGBENCH_SECONDS / 2);
    // The samples saw records on their way, and none was called a loss.
    expect(summaries.some((x) => x.windows.behind > 0 || x.transactions.pending > 0)).toBe(true);

    let inKafka = 0;
    for (const t of TABLES) inKafka += (await f.recordsRaw(t.name)).length;
    const s = await waitForSummary(
      counter,
      `the ledger to settle at ${inKafka} records`,
      (x) => x.totals.transferred === inKafka && x.totals.emitted === inKafka && x.totals.applied + x.totals.duplicate === inKafka && x.windows.behind === 0 && x.transactions.pending === 0 && x.transactions.complete === 0,
      120_000,
    );
    expect(s.ok).toBe(true);
    expect(s.windows.mismatch + s.windows.attention + s.transactions.incomplete).toBe(0);
  });
});
