// Failover slots (issue 25, PostgreSQL 17+). With source.slot: { name, failover: true } the
// producer creates its slot with FAILOVER; a standby with sync_replication_slots keeps a copy;
// after the primary dies (right after a burst the producer acknowledged, with the copy most
// likely behind its checkpoint) and the standby is promoted, the producer pointed at the new
// primary streams on from that copy, and every change committed on either server is in Kafka exactly
// once (by key and a version column each change sets anew), the last record per key equal to
// the promoted server's rows. The consumer (into a target database) and the counter (its ledger
// in another) run through it all, reading Kafka only; at the end the ledger balances (the
// counter restarted on the promoted server, whose slot its slot check then reads) and the
// verifier finds the promoted server's table equal to the target's. On the stack's PostgreSQL 15 the same key stops the producer at
// start with SLOT_FAILOVER_UNSUPPORTED, before it creates a slot or a publication.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import pg from "pg";
import { parse, stringify } from "yaml";
import { createTestDatabase, ensurePostgresBinaries, freePort, Instance, pollUntil, runRoot, type TestDatabase } from "@zeroloss/devstack";
import { createKafka, readToEnd } from "@zeroloss/kafka";
import { EnvelopeReader } from "@zeroloss/avro";
import { silentLogger } from "@zeroloss/observability";
import { parseLsn, slotStatus } from "@zeroloss/pg";
import { topicNames, type Envelope } from "@zeroloss/wire";
import { testLogger } from "../setup/logger.js";
import { runCli } from "../cli/run-cli.js";
import { CONSUMER_MAIN } from "../consumer/harness.js";
import { startCounter, waitForSummary, type RunningCounter } from "../counter/harness.js";
import type { Report } from "../verifier/harness.js";
import { producerFixture, rowsOfBulk, startProducer, startService, type ProducerFixture, type RunningProducer } from "./harness.js";
import { startStandbyPair, type StandbyPair } from "./standby.js";

const stack = inject("stack");
const VERIFIER_MAIN = resolve(import.meta.dirname, "../../services/verifier/dist/main.js");

describe("source.slot.failover on PostgreSQL 15", () => {
  let f: ProducerFixture;

  beforeAll(async () => {
    f = await producerFixture(stack, "fo15", { source: { tables: ["public.items"] } });
    await f.sql.query("CREATE TABLE public.items (id int PRIMARY KEY, v text)");
    // The object form of source.slot, as an operator writes it.
    const doc = parse(readFileSync(f.configFile, "utf8")) as { source: Record<string, unknown> };
    doc.source["slot"] = { name: f.slot, failover: true };
    writeFileSync(f.configFile, stringify(doc));
  });

  afterAll(async () => {
    await f?.close();
  });

  it("refuses at start with SLOT_FAILOVER_UNSUPPORTED naming the version and the key, creating no slot and no publication", async () => {
    const version = (await f.sql.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v ?? "";
    expect(Number(version)).toBeLessThan(170000);
    const p = await f.start();
    const code = await p.exitWithin(60_000);
    expect(code, p.output()).not.toBe(0);
    expect(p.output()).toMatch(/error \[SLOT_FAILOVER_UNSUPPORTED\]: source\.slot\.failover is true, but the source runs PostgreSQL 1[456]\./);
    expect((await slotStatus(f.sql, f.slot)).exists).toBe(false);
    expect((await f.sql.query("SELECT 1 FROM pg_publication WHERE pubname = 'zl_fo15'")).rowCount).toBe(0);
  });

  it("zeroloss check reports it as an error with the same code", async () => {
    const r = await runCli(["check", "--config", f.configFile, "--json"]);
    const report = JSON.parse(r.stdout) as { findings: Array<{ check: string; severity: string; code?: string }> };
    expect(report.findings.filter((x) => x.check === "slot-failover"), r.stdout + r.stderr).toEqual([expect.objectContaining({ severity: "error", code: "SLOT_FAILOVER_UNSUPPORTED" })]);
    expect(r.code).toBe(1);
  });
});

/** One committed change, as the test expects to find it in Kafka: `c:id:ver`, `u:id:ver`, `d:id`, `r:id:ver`. */
type Change = string;

/** A deterministic mix of inserts, updates and deletes, one to three to a transaction; returns what committed. */
async function workload(c: pg.Client, state: { nextId: number; ver: number; live: number[]; seed: number }, ops: number): Promise<Change[]> {
  const done: Change[] = [];
  const rand = () => {
    state.seed = (state.seed * 1103515245 + 12345) % 2147483648;
    return state.seed / 2147483648;
  };
  let left = ops;
  while (left > 0) {
    const size = Math.min(left, 1 + Math.floor(rand() * 3));
    const tx: Change[] = [];
    const live = [...state.live];
    await c.query("BEGIN");
    for (let i = 0; i < size; i++) {
      const roll = rand();
      if (live.length === 0 || roll < 0.35) {
        const id = state.nextId++;
        const ver = ++state.ver;
        await c.query("INSERT INTO public.items (id, ver) VALUES ($1, $2)", [id, ver]);
        live.push(id);
        tx.push(`c:${id}:${ver}`);
      } else if (roll < 0.8) {
        const id = live[Math.floor(rand() * live.length)] as number;
        const ver = ++state.ver;
        await c.query("UPDATE public.items SET ver = $2 WHERE id = $1", [id, ver]);
        tx.push(`u:${id}:${ver}`);
      } else {
        const at = Math.floor(rand() * live.length);
        const id = live[at] as number;
        live.splice(at, 1);
        await c.query("DELETE FROM public.items WHERE id = $1", [id]);
        tx.push(`d:${id}`);
      }
    }
    await c.query("COMMIT");
    state.live = live;
    done.push(...tx);
    left -= size;
  }
  return done;
}

describe("failover slots on PostgreSQL 17: the producer streams on from the promoted standby", () => {
  const log = testLogger("failover-slot");
  const slot = "zl_failover";
  const prefix = `zl_failover_${Date.now().toString(36)}`;
  let instance: Instance;
  let pair: StandbyPair;
  let producer: RunningProducer | undefined;
  let configFile: string;
  // The consumer and the counter read Kafka only: they run through the whole test, the
  // target and the ledger in databases of their own on the shared stack's target server.
  let targetDb: TestDatabase;
  let ledgerDb: TestDatabase;
  let consumer: RunningProducer | undefined;
  let counter: RunningCounter | undefined;
  const suffix = Date.now().toString(36);
  const kafka = createKafka({ connection: { brokers: stack.kafka }, clientId: "test-failover", log: silentLogger() });
  const envelopes = new EnvelopeReader(null);

  const writeConfig = (url: string) =>
    writeFileSync(
      configFile,
      stringify({
        source: { url, slot: { name: slot, failover: true }, tables: ["public.items"], publication: "zl_failover", heartbeatSeconds: 1 },
        target: { url: targetDb.url },
        kafka: { brokers: [...stack.kafka], topicPrefix: prefix, partitions: 3 },
        producer: { http: { port: 0, host: "127.0.0.1" } },
        consumer: { group: `zl_failover_${suffix}`, topicPollMs: 300, retryInitialMs: 50, retryMaxMs: 1_000, sessionTimeoutMs: 10_000, http: { port: 0, host: "127.0.0.1" } },
        // The slot check reads source.url as the counter read it at start: the counter is
        // restarted on the promoted server, whose slot (the synced copy) it then checks.
        counter: { url: ledgerDb.url, group: `zl_failover_counter_${suffix}`, refreshMs: 300, topicPollMs: 300, sessionTimeoutMs: 6_000, slotCheckSeconds: 1, http: { port: 0, host: "127.0.0.1" } },
        log: { level: process.env["ZEROLOSS_TEST_LOG_LEVEL"] ?? "warn" },
      }),
    );
  const startIt = async () => startProducer(configFile, [], { ZEROLOSS_PRODUCER_HTTP_PORT: String(await freePort()) });
  const alive = () => {
    if (producer !== undefined && producer.proc.exitCode !== null) throw new Error(`producer exited with ${producer.proc.exitCode}:\n${producer.output()}`);
    if (consumer !== undefined && consumer.proc.exitCode !== null) throw new Error(`consumer exited with ${consumer.proc.exitCode}:\n${consumer.output().slice(-4000)}`);
    if (counter !== undefined && counter.proc.exitCode !== null) throw new Error(`counter exited with ${counter.proc.exitCode}:\n${counter.output().slice(-4000)}`);
  };
  const startConsumer = async () => startService(CONSUMER_MAIN, "ZEROLOSS_CONSUMER_HTTP_PORT", configFile, [], { ZEROLOSS_CONSUMER_HTTP_PORT: String(await freePort()) });
  /** `zeroloss-verifier --config FILE --json --no-progress`: its exit code, output and JSON report. */
  const verify = () =>
    new Promise<{ code: number; stdout: string; stderr: string; report: Report | null }>((done) => {
      execFile(
        process.execPath,
        [VERIFIER_MAIN, "--config", configFile, "--json", "--no-progress"],
        { env: { PATH: process.env["PATH"] ?? "" }, timeout: 180_000, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const code = err === null ? 0 : typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : -1;
          let report: Report | null = null;
          try {
            report = JSON.parse(stdout) as Report;
          } catch {
            report = null;
          }
          done({ code, stdout, stderr, report });
        },
      );
    });

  /** Every data record of public.items in Kafka (read_committed), bulk snapshot records as their rows, in partition and offset order. */
  const records = async (): Promise<Array<{ envelope: Envelope; partition: number; offset: number }>> => {
    const raw: Array<{ value: Buffer | null; partition: number; offset: number }> = [];
    await readToEnd(kafka, topicNames(prefix).data("public", "items"), (r) => raw.push({ value: r.value, partition: r.partition, offset: Number(r.offset) }));
    await envelopes.load(raw.map((r) => r.value));
    const decoded = raw.map((r) => ({ envelope: envelopes.decode(r.value), key: null, partition: r.partition, offset: r.offset }));
    return decoded.flatMap((r) => (r.envelope.rows === undefined ? [r] : rowsOfBulk(r))).sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  };
  const changesIn = (recs: Array<{ envelope: Envelope }>): Change[] =>
    recs.map(({ envelope: e }) => (e.op === "d" ? `d:${e.before?.["id"] ?? "?"}` : `${e.op}:${e.after?.["id"] ?? "?"}:${e.after?.["ver"] ?? "?"}`));
  const waitForChanges = (count: number, what: string) =>
    pollUntil(async () => ((await records()).length >= count ? true : undefined), { timeoutMs: 120_000, intervalMs: 500, what, abortIf: alive });
  const sorted = (xs: readonly string[]) => [...xs].sort();

  const query = async <R extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<R[]> => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query<R>(sql, params)).rows;
    } finally {
      await c.end();
    }
  };

  let binDir: string;
  beforeAll(async () => {
    // PostgreSQL 17 from Maven Central on first use (cached): the system's 15 has no failover slots.
    binDir = await ensurePostgresBinaries(17, { env: process.env, log });
    instance = await Instance.create({ root: runRoot(process.env), detached: false, log });
    pair = await startStandbyPair(instance, {
      binDir,
      database: "app",
      log,
      prepare: async (c) => {
        await c.query("CREATE TABLE public.items (id int PRIMARY KEY, ver bigint NOT NULL)");
        await c.query("INSERT INTO public.items SELECT g, g FROM generate_series(1, 200) g");
      },
    });
    configFile = join(mkdtempSync(join(tmpdir(), "zeroloss-failover-")), "zeroloss.yaml");
    targetDb = await createTestDatabase(stack.target, "fo_t");
    ledgerDb = await createTestDatabase(stack.target, "fo_l");
  }, 240_000);

  afterAll(async () => {
    for (const c of clients.splice(0)) await c.end().catch(() => undefined);
    await producer?.stop("SIGKILL");
    await consumer?.stop("SIGKILL");
    await counter?.stop("SIGKILL");
    await instance?.stop();
    await targetDb?.drop();
    await ledgerDb?.drop();
  });

  it("turns failover on for a slot made without it (ALTER_REPLICATION_SLOT), keeping its position", async () => {
    const existing = "zl_failover_existing";
    const made = await query<{ lsn: string }>(pair.primary.url, "SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", [existing]);
    const file = join(mkdtempSync(join(tmpdir(), "zeroloss-failover-")), "zeroloss.yaml");
    writeFileSync(
      file,
      stringify({
        source: { url: pair.primary.url, slot: { name: existing, failover: true }, tables: ["public.items"], publication: "zl_failover_existing", snapshot: { mode: "never" } },
        target: { url: pair.primary.url },
        kafka: { brokers: [...stack.kafka], topicPrefix: `${prefix}_existing`, partitions: 1 },
        producer: { http: { port: 0, host: "127.0.0.1" } },
        log: { level: process.env["ZEROLOSS_TEST_LOG_LEVEL"] ?? "warn" },
      }),
    );
    const p = startProducer(file, [], { ZEROLOSS_PRODUCER_HTTP_PORT: String(await freePort()) });
    try {
      const s = await pollUntil(
        async () => {
          const st = await slotStatus(await connected(pair.primary.url), existing);
          return st.failover === true && st.active ? st : undefined;
        },
        {
          timeoutMs: 60_000,
          what: `slot ${existing} to have failover on and be streamed from`,
          abortIf: () => {
            if (p.proc.exitCode !== null) throw new Error(`producer exited with ${p.proc.exitCode}:\n${p.output()}`);
          },
        },
      );
      expect(parseLsn(s.confirmedFlushLsn ?? "0/0")).toBeGreaterThanOrEqual(parseLsn(made[0]?.lsn ?? "0/0"));
    } finally {
      await p.stop("SIGTERM").catch(async () => p.stop("SIGKILL"));
    }
    // Not kept: the standby would sync it too, and it holds WAL back.
    await pollUntil(async () => ((await slotStatus(await connected(pair.primary.url), existing)).active ? undefined : true), { timeoutMs: 30_000, what: `slot ${existing} released` });
    await query(pair.primary.url, "SELECT pg_drop_replication_slot($1)", [existing]);
  });

  it("streams through a promotion: every change committed on the old and the new primary in Kafka exactly once, the last per key equal to the promoted server's rows; the ledger balances and the verifier finds the target equal", async () => {
    const figures: Record<string, number | string> = {};
    const state = { nextId: 201, ver: 200, live: Array.from({ length: 200 }, (_, i) => i + 1), seed: 25 };
    const expected: Change[] = state.live.map((id) => `r:${id}:${id}`);
    const primaryUrl = pair.primary.url;
    figures["server"] = (await query<{ v: string }>(primaryUrl, "SELECT version() AS v"))[0]?.v.split(" on ")[0] ?? "?";

    // 1. The producer on the primary: snapshot, then a workload while it streams.
    writeConfig(primaryUrl);
    const startedAt = Date.now();
    producer = await startIt();
    await waitForChanges(200, "the snapshot's 200 rows in Kafka");
    consumer = await startConsumer();
    counter = await startCounter(configFile);
    const w = new pg.Client({ connectionString: primaryUrl });
    await w.connect();
    expected.push(...(await workload(w, state, 300)));
    await w.end();
    const primarySlot = await query<{ failover: boolean }>(primaryUrl, "SELECT failover FROM pg_replication_slots WHERE slot_name = $1", [slot]);
    expect(primarySlot[0]?.failover, "the producer created its slot with FAILOVER").toBe(true);

    // 2. The standby's copy: synced, persisted (a temporary one is dropped at promotion), valid.
    await pollUntil(
      async () => {
        const s = await slotStatus(await connected(pair.standbyUrl), slot);
        return s.exists && s.synced === true && s.temporary === false && s.invalidationReason === null ? s : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 200, what: `the standby to hold a synced, persistent copy of slot ${slot}`, abortIf: alive },
    );
    figures["slot synced to the standby after producer start (ms)"] = Date.now() - startedAt;

    // 3. The workload stopped: Kafka has it all, the producer acknowledged past it, and the standby's copy caught up with that.
    await waitForChanges(expected.length, `${expected.length} records in Kafka`);
    const endOfWork = (await query<{ lsn: string }>(primaryUrl, "SELECT pg_current_wal_lsn()::text AS lsn"))[0]?.lsn ?? "0/0";
    const acknowledged = await pollUntil(
      async () => {
        const lsn = (await query<{ lsn: string | null }>(primaryUrl, "SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1", [slot]))[0]?.lsn ?? null;
        return lsn !== null && parseLsn(lsn) >= parseLsn(endOfWork) ? lsn : undefined;
      },
      { timeoutMs: 60_000, what: `the producer to acknowledge past ${endOfWork}`, abortIf: alive },
    );
    const caughtUpFrom = Date.now();
    const standbyCopy = await pollUntil(
      async () => {
        const s = await slotStatus(await connected(pair.standbyUrl), slot);
        return s.confirmedFlushLsn !== null && parseLsn(s.confirmedFlushLsn) >= parseLsn(acknowledged) ? s.confirmedFlushLsn : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 200, what: `the standby's copy of ${slot} to reach ${acknowledged}`, abortIf: alive },
    );
    figures["standby copy caught up with the acknowledged position (ms)"] = Date.now() - caughtUpFrom;
    figures["positions (primary acknowledged / standby copy)"] = `${acknowledged} / ${standbyCopy}`;

    // 3b. More changes, waited for in Kafka and acknowledged but not in the standby's copy: the
    // primary then dies with the copy (most likely) behind the producer's checkpoint. Kafka
    // having them means the standby received them (synchronized_standby_slots).
    const w1 = new pg.Client({ connectionString: primaryUrl });
    await w1.connect();
    expected.push(...(await workload(w1, state, 60)));
    await w1.end();
    await waitForChanges(expected.length, `${expected.length} records in Kafka`);
    const endOfTail = (await query<{ lsn: string }>(primaryUrl, "SELECT pg_current_wal_lsn()::text AS lsn"))[0]?.lsn ?? "0/0";
    await pollUntil(
      async () => {
        const lsn = (await query<{ lsn: string | null }>(primaryUrl, "SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1", [slot]))[0]?.lsn ?? null;
        return lsn !== null && parseLsn(lsn) >= parseLsn(endOfTail) ? lsn : undefined;
      },
      { timeoutMs: 60_000, what: `the producer to acknowledge past ${endOfTail}`, abortIf: alive },
    );

    // 4. The primary dies; the standby is promoted; the producer is pointed at it.
    const copyAtKill = (await slotStatus(await connected(pair.standbyUrl), slot)).confirmedFlushLsn;
    await pair.primary.stop("immediate");
    figures["standby copy at the kill / end of the last acknowledged changes"] = `${copyAtKill} / ${endOfTail}`;
    const promoteFrom = Date.now();
    await pair.promote();
    figures["promotion (ms)"] = Date.now() - promoteFrom;
    await producer.stop("SIGTERM").catch(async () => producer?.stop("SIGKILL"));
    const promoted = await slotStatus(await connected(pair.standbyUrl), slot);
    expect(promoted).toMatchObject({ exists: true, failover: true, synced: true, invalidationReason: null });
    figures["slot on the promoted server (confirmed_flush_lsn, wal_status)"] = `${promoted.confirmedFlushLsn}, ${promoted.walStatus}`;

    writeConfig(pair.standbyUrl);
    const resumeFrom = Date.now();
    producer = await startIt();
    // The counter again, now on the promoted server (its ledger carries on).
    await counter.stop("SIGTERM").catch(async () => counter?.stop("SIGKILL"));
    counter = await startCounter(configFile);
    const w2 = new pg.Client({ connectionString: pair.standbyUrl });
    await w2.connect();
    expected.push(...(await workload(w2, state, 300)));
    await w2.end();
    await waitForChanges(expected.length, `${expected.length} records in Kafka after the promotion`);
    figures["restart on the promoted server to all its changes in Kafka (ms)"] = Date.now() - resumeFrom;

    // 5. Nothing lost, nothing doubled: Kafka holds exactly the committed changes...
    const recs = await records();
    expect(sorted(changesIn(recs))).toEqual(sorted(expected));
    // ...and the last record per key is the promoted server's row.
    const last = new Map<string, string | null>();
    for (const { envelope: e } of recs) {
      if (e.op === "d") last.set(e.before?.["id"] ?? "?", null);
      else last.set(e.after?.["id"] ?? "?", e.after?.["ver"] ?? null);
    }
    const fromKafka = [...last.entries()].filter(([, v]) => v !== null).map(([id, v]) => `${id}:${v}`);
    const rows = await query<{ id: number; ver: string }>(pair.standbyUrl, "SELECT id, ver::text FROM public.items");
    expect(sorted(fromKafka)).toEqual(sorted(rows.map((r) => `${r.id}:${r.ver}`)));
    // The producer is still healthy, streaming from the promoted server.
    alive();

    // 6. The ledger balances: every record the producer reported is in Kafka and written by the consumer.
    const balanceFrom = Date.now();
    const summary = await waitForSummary(
      counter,
      `the ledger to balance at ${recs.length} rows`,
      (x) =>
        x.ok &&
        x.windows.behind === 0 &&
        x.windows.mismatch === 0 &&
        x.windows.attention === 0 &&
        x.transactions.pending === 0 &&
        x.transactions.incomplete === 0 &&
        x.totals.quarantined === 0 &&
        x.totals.emitted === x.totals.transferred &&
        x.totals.transferred === x.totals.applied + x.totals.duplicate &&
        x.totals.rows.transferred === recs.length &&
        x.slot.state === "ok",
      180_000,
    );
    alive();
    expect(summary.problems).toEqual([]);
    figures["ledger balanced after all changes were in Kafka (ms)"] = Date.now() - balanceFrom;
    figures["summary"] = JSON.stringify({ totals: summary.totals, windows: summary.windows, transactions: summary.transactions, slot: summary.slot.state });

    // 7. The verifier: the promoted server's table equals the target's.
    const v = await verify();
    expect(v.report?.result, `verifier exit ${v.code}\n${v.stdout}\n${v.stderr}`).toBe("equal");
    expect(v.report?.tables.find((t) => t.table === "public.items"), v.stdout).toMatchObject({ result: "equal", sourceRows: rows.length, targetRows: rows.length, driftRows: 0 });
    expect(v.code).toBe(0);
    figures["verifier"] = `${v.report?.result}, ${v.report?.tables.map((t) => `${t.table} ${t.result} ${t.sourceRows}/${t.targetRows}`).join("; ")}`;
    figures["changes"] = `${expected.length} (200 snapshot rows, ${expected.length - 200} changes); ${rows.length} rows at the end`;
    console.log(`failover-slot figures: ${JSON.stringify(figures, null, 2)}`);
  }, 600_000);

  /** A short-lived client per read: the server behind it changes role during the test. */
  const clients: pg.Client[] = [];
  async function connected(url: string): Promise<pg.Client> {
    for (const c of clients.splice(0)) await c.end().catch(() => undefined);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    clients.push(c);
    return c;
  }
});
