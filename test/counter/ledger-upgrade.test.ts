// The counter's ledger `zeroloss_counter` upgraded from the previous release: a ledger set
// up by 419982c's counter (its IF NOT EXISTS list, no version table) with counts in it is
// adopted by step 1, the rows survive, the version table says the latest step, a second
// start is a no-op, and the result is the same schema a fresh ledger gets. A ledger a newer
// counter migrated stops the counter at start with SCHEMA_NEWER_THAN_CODE.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, freePort, type TestDatabase } from "@zeroloss/devstack";
import { connect, type AppliedStep } from "@zeroloss/pg";
import { ensureLedger, SCHEMA } from "../../services/counter/src/ledger.js";
import { LEDGER_MIGRATIONS } from "../../services/counter/src/migrations/index.js";
import { LEDGER_419982C } from "../fixtures/schemas-419982c.js";
import { schemaShape } from "../fixtures/schema-shape.js";
import { startService } from "../producer/harness.js";
import { COUNTER_MAIN } from "./harness.js";

const stack = inject("stack");

describe("ledger schema upgrade", () => {
  let old: TestDatabase;
  let fresh: TestDatabase;
  let o: pg.Client;
  let f: pg.Client;

  beforeAll(async () => {
    [old, fresh] = await Promise.all([createTestDatabase(stack.target, "ledger_upgrade"), createTestDatabase(stack.target, "ledger_fresh")]);
    o = await connect(old.url, { applicationName: "test-ledger-upgrade" });
    f = await connect(fresh.url, { applicationName: "test-ledger-fresh" });
    // The ledger as 419982c's counter left it, with a window, a transaction, positions, a snapshot.
    for (const sql of LEDGER_419982C) await o.query(sql);
    await o.query(`INSERT INTO zeroloss_counter.positions (topic, partition, next_offset) VALUES ('zl.public.a', 0, 120), ('zl.tallies', 0, 9)`);
    await o.query(
      `INSERT INTO zeroloss_counter.windows (topic, partition, window_start, window_size, emitted, transferred, applied, emitted_rows, transferred_rows, applied_rows, transferred_offsets)
       VALUES ('zl.public.a', 0, 100, 50, 20, 20, 20, 20, 20, 20, '{[100,120)}')`,
    );
    await o.query(
      `INSERT INTO zeroloss_counter.transactions (db, commit_lsn, commit_time, expected, seen, seen_records, complete_at, applied_at)
       VALUES ('app', '0/16B3748', '2026-12-01T00:00:00Z', '{"public.a": 20}', '{"public.a": 20}', 20, now(), now())`,
    );
    await o.query(`UPDATE zeroloss_counter.counts SET n = 1 WHERE name = 'applied'`);
    await o.query(
      `INSERT INTO zeroloss_counter.snapshots (slot, table_name, kind, rows, estimated, done, started_at, started_rows, updated_at)
       VALUES ('zl', 'public.a', 'initial', 100, 100, true, now(), 0, now())`,
    );
  });
  afterAll(async () => {
    await o?.end();
    await f?.end();
    await old?.drop();
    await fresh?.drop();
  });

  it("adopts the previous release's ledger: step 1 applies over it, every row survives, the version table says the latest step; again, nothing happens", async () => {
    const heard: AppliedStep[] = [];
    const result = await ensureLedger(o, (s) => heard.push(s));
    expect(result).toMatchObject({ from: 0, to: LEDGER_MIGRATIONS.length });
    expect(heard.map((s) => `${s.schema} ${s.version} ${s.name}`)).toEqual(LEDGER_MIGRATIONS.map((m) => `zeroloss_counter ${m.version} ${m.name}`));
    const versions = await o.query<{ version: string; name: string }>("SELECT version, name FROM zeroloss_counter.migrations ORDER BY version");
    expect(versions.rows).toEqual(LEDGER_MIGRATIONS.map((m) => ({ version: String(m.version), name: m.name })));

    expect((await o.query("SELECT topic, partition, next_offset FROM zeroloss_counter.positions ORDER BY topic")).rows).toEqual([
      { topic: "zl.public.a", partition: "0", next_offset: "120" },
      { topic: "zl.tallies", partition: "0", next_offset: "9" },
    ]);
    expect((await o.query("SELECT emitted, applied_rows, rows_inexact, transferred_offsets::text FROM zeroloss_counter.windows")).rows).toEqual([
      { emitted: "20", applied_rows: "20", rows_inexact: "f", transferred_offsets: "{[100,120)}" },
    ]);
    expect((await o.query("SELECT db, seen_records, applied_at IS NOT NULL AS applied FROM zeroloss_counter.transactions")).rows).toEqual([{ db: "app", seen_records: "20", applied: "t" }]);
    expect((await o.query("SELECT name, n FROM zeroloss_counter.counts")).rows).toEqual([{ name: "applied", n: "1" }]);
    expect((await o.query("SELECT slot, table_name, rows, done FROM zeroloss_counter.snapshots")).rows).toEqual([{ slot: "zl", table_name: "public.a", rows: "100", done: "t" }]);

    expect(await ensureLedger(o, (s) => heard.push(s))).toEqual({ from: LEDGER_MIGRATIONS.length, to: LEDGER_MIGRATIONS.length, applied: [] });
    expect(heard).toHaveLength(LEDGER_MIGRATIONS.length);
  });

  it("the upgraded ledger is the one a fresh ledger gets", async () => {
    await ensureLedger(f);
    expect(await schemaShape(o, SCHEMA)).toEqual(await schemaShape(f, SCHEMA));
  });

  it("a ledger a newer counter migrated: refused with SCHEMA_NEWER_THAN_CODE naming schema and versions, and the counter stops at start on it", async () => {
    const code = LEDGER_MIGRATIONS.length;
    await f.query("INSERT INTO zeroloss_counter.migrations (version, name) VALUES ($1, 'from-the-future')", [code + 1]);
    await expect(ensureLedger(f)).rejects.toMatchObject({
      code: "SCHEMA_NEWER_THAN_CODE",
      retriable: false,
      message: expect.stringMatching(new RegExp(`^schema zeroloss_counter \\(the counter's ledger\\) is at version ${code + 1}, newer than this zeroloss knows \\(version ${code}\\)`)),
      details: { schema: "zeroloss_counter", databaseVersion: code + 1, codeVersion: code },
    });

    // The counter process: its start-up (before it joins the group) stops on it, exit 1.
    const dir = mkdtempSync(join(tmpdir(), "zeroloss-ledger-upgrade-"));
    const configFile = join(dir, "zeroloss.yaml");
    writeFileSync(
      configFile,
      JSON.stringify({
        source: { url: fresh.url },
        target: { url: fresh.url },
        counter: { url: fresh.url },
        kafka: { brokers: [...stack.kafka], topicPrefix: "zl_ledger_upgrade" },
        log: { level: "warn" },
      }),
    );
    const counter = startService(COUNTER_MAIN, "ZEROLOSS_COUNTER_HTTP_PORT", configFile, [], { ZEROLOSS_COUNTER_HTTP_PORT: String(await freePort()) });
    try {
      await counter.exitWithin(30_000);
      expect(counter.proc.exitCode, counter.output()).toBe(1);
      expect(counter.output()).toContain("SCHEMA_NEWER_THAN_CODE");
      expect(counter.output()).toContain(`is at version ${code + 1}, newer than this zeroloss knows (version ${code})`);
    } finally {
      await counter.stop("SIGKILL");
    }
  });
});
