// The live dashboard as an SRE sees it, in headless Chromium: the totals per stage of a
// balanced run (records and rows), snapshot progress per table (the run's own, done, and a
// running one another producer reports), then, without reloading, a window turning into a mismatch (a tally claiming
// offsets the topic does not hold) and showing highlighted. The screenshot is kept under
// .zeroloss/artifacts/ for a person to look at.
import { existsSync, statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import type { Browser, Locator, Page } from "playwright-core";
import { encodeJson, topicNames, type Tally } from "@zeroloss/wire";
import { sourceClient, waitForEqual, type TableSpec } from "../consumer/harness.js";
import type { RunningProducer } from "../producer/harness.js";
import { artifactPath, launchBrowser } from "../setup/browser.js";
import { counterFixture, waitForSummary, type CounterFixture, type RunningCounter, type SummaryBody } from "./harness.js";

const TABLES: TableSpec[] = [{ name: "public.items", columns: ["id", "v"], key: ["id"] }];
const ROWS = 1_234;
const MISMATCH_RED = "rgb(253, 226, 225)"; // tr.state-mismatch td in services/counter/src/dashboard.ts

describe("counter dashboard", () => {
  let f: CounterFixture;
  let src: pg.Client;
  let producer: RunningProducer;
  let consumer: RunningProducer;
  let counter: RunningCounter;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    // One record per snapshot row: the totals checked here count records (source.snapshot.bulk).
    f = await counterFixture(inject("stack"), "ctrdash", { source: { snapshot: { bulk: false } }, tallies: { windowSize: 100 }, counter: { graceSeconds: 2 } });
    src = await sourceClient(f);
    await src.query(`CREATE TABLE items (id int PRIMARY KEY, v text)`);
    await src.query(`INSERT INTO items SELECT i, 'v' || i FROM generate_series(1, ${ROWS}) i`);
    producer = await f.start();
    consumer = await f.startConsumer();
    counter = await f.startCounter();
    await waitForEqual(f, src, TABLES, [producer, consumer]);
    await waitForSummary(counter, "a balanced ledger", (s) => s.ok && s.totals.applied === ROWS && s.windows.behind === 0);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  });

  afterAll(async () => {
    await browser?.close();
    await src?.end();
    await f?.close();
  });

  const tile = (attr: string, key: string) => page.locator(`[${attr}="${key}"] .n`).innerText();
  // Runs in the page; the test project compiles without the DOM library, hence the cast.
  type Styled = { getComputedStyle(el: unknown): { backgroundColor: string } };
  const background = (l: Locator) => l.evaluate((el) => (globalThis as unknown as Styled).getComputedStyle(el).backgroundColor);

  it("shows the totals per stage of a balanced run", async () => {
    await page.goto(`http://127.0.0.1:${counter.port}/`);
    await page.waitForSelector("#status.ok", { timeout: 30_000 });
    const summary = (await counter.api<SummaryBody>("/api/summary"))!;
    expect(await page.locator("#status").innerText()).toContain("Every change is accounted for");
    for (const stage of ["emitted", "transferred", "applied"] as const) {
      expect(await tile("data-stage", stage), stage).toBe(summary.totals[stage].toLocaleString("en-US"));
    }
    expect(await tile("data-stage", "applied")).toBe(ROWS.toLocaleString("en-US"));
    expect(await tile("data-row-stage", "applied")).toBe(ROWS.toLocaleString("en-US")); // one row per record here
    expect(await tile("data-state", "mismatch")).toBe("0");
    // The initial snapshot, from the producer's checkpoints: done, every row.
    expect(summary.snapshots?.find((t) => t.table === "public.items")).toMatchObject({ kind: "initial", rows: ROWS, estimatedRows: ROWS, done: true, etaSeconds: 0 });
    const items = page.locator('#snapshots tbody tr[data-table="public.items"]');
    await items.waitFor({ timeout: 30_000 });
    expect(await items.innerText()).toMatch(/public\.items\s+initial\s+1,234 \(100%\)\s+1,234\s+done\b/);
    expect(await page.locator("#partitions tbody tr").count()).toBe(summary.partitions.length);
    expect(await page.locator("#no-attention").isVisible()).toBe(true);
    expect(await page.locator("#attention tbody tr").count()).toBe(0);
  });

  it("shows a running snapshot's rows of the estimate, its rate and the time left (dashboard, status, metrics)", async () => {
    // Two checkpoints of another producer (slot) 10 s apart: 1,000 then 3,000 of about 10,000 rows.
    const checkpoint = (rows: number, at: string) =>
      encodeJson({
        v: 1,
        slot: "zl_other_slot",
        db: "other",
        lsn: "0/100",
        phase: "snapshot",
        snapshot: { consistentLsn: "0/100", tables: [{ table: "public.huge", done: false, lastKey: null, rows, estimatedRows: 10_000 }] },
        at,
      });
    const p = f.kafka.producer();
    await p.connect();
    await p.send({
      topic: topicNames(f.prefix).checkpoints,
      messages: [
        { key: "zl_other_slot", value: checkpoint(1_000, "2026-12-01T00:00:00.000Z") },
        { key: "zl_other_slot", value: checkpoint(3_000, "2026-12-01T00:00:10.000Z") },
      ],
    });
    await p.disconnect();
    const s = await waitForSummary(counter, "the other producer's snapshot progress", (x) => x.snapshots?.some((t) => t.table === "public.huge" && t.rows === 3_000) === true);
    expect(s.snapshots?.find((t) => t.table === "public.huge")).toMatchObject({ kind: "initial", rows: 3_000, estimatedRows: 10_000, done: false, rowsPerSecond: 200, etaSeconds: 35 });
    const huge = page.locator('#snapshots tbody tr[data-table="public.huge"]');
    await huge.waitFor({ timeout: 30_000 });
    expect(await huge.innerText()).toMatch(/public\.huge\s+initial\s+3,000 \(30%\)\s+10,000\s+running\s+200\s+35 s/);
    const status = await f.status(counter);
    expect(status.stdout).toContain("snapshot of public.huge (initial): 3,000 of about 10,000 rows in Kafka, 200 rows/s, about 35 s left");
    expect(await counter.metric("zeroloss_ledger_snapshot_eta_seconds", { table: "public.huge" })).toBe(35);
    expect(await counter.metric("zeroloss_ledger_snapshot_rows", { table: "public.huge", figure: "per_second" })).toBe(200);
  });

  it("highlights a window that turns into a mismatch, without a reload", async () => {
    const dataTopic = topicNames(f.prefix).data("public", "items");
    const fake: Tally = { v: 1, stage: "emitted", topic: dataTopic, partition: 0, windowStart: 5000, windowSize: 100, count: 3, firstOffset: 5000, lastOffset: 5002 }; // past the partition's committed end: proven by the counter's probe of it
    const p = f.kafka.producer();
    await p.connect();
    await p.send({ topic: topicNames(f.prefix).tallies, messages: [{ key: `${dataTopic}:0`, value: encodeJson(fake), partition: 0 }] });
    await p.disconnect();

    // The page polls on its own; playwright's wait is a poll with a deadline.
    const row = page.locator("#attention tbody tr.state-mismatch");
    await row.first().waitFor({ timeout: 60_000 });
    expect(await row.count()).toBe(1);
    const text = await row.innerText();
    expect(text).toContain(dataTopic);
    expect(text).toContain("5000–5099");
    expect(text).toContain("emitted offsets past Kafka's committed end: 5000-5002");
    expect(await background(row.locator("td").first())).toBe(MISMATCH_RED);
    const plain = await background(page.locator("#partitions tbody td").first());
    expect(plain).not.toBe(MISMATCH_RED);
    expect(await page.locator("#status").getAttribute("class")).toBe("problem");
    expect(await page.locator("#status").innerText()).toContain("1 window(s) in mismatch");
    expect(await tile("data-state", "mismatch")).toBe("1");
    expect(await page.locator("#no-attention").isVisible()).toBe(false);

    const shot = artifactPath("dashboard-mismatch.png");
    await page.screenshot({ path: shot, fullPage: true });
    expect(existsSync(shot) && statSync(shot).size > 10_000, `screenshot at ${shot}`).toBe(true);
  });
});
