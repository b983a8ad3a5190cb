// The target's bookkeeping schema `zeroloss` upgraded from the previous release: a target
// set up by 419982c's consumer (its IF NOT EXISTS list, no version table) with rows in it
// is adopted by step 1, the rows survive, the version table says the latest step, a second
// start is a no-op, and the result is the same schema a fresh target gets. The tables as
// @zeroloss/bookkeeping declares them are the tables the migrations make. A target a newer
// release migrated stops the consumer at start with SCHEMA_NEWER_THAN_CODE.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { APPLIED_POSITIONS, BOOKKEEPING_MIGRATIONS, BOOKKEEPING_SCHEMA, BOOKKEEPING_TABLES, QUARANTINE, readAppliedPositions, type QuarantineRow } from "@zeroloss/bookkeeping";
import { createTestDatabase, freePort, type TestDatabase } from "@zeroloss/devstack";
import { connect, type AppliedStep } from "@zeroloss/pg";
import { ensureBookkeeping } from "../../services/consumer/src/target-schema.js";
import { BOOKKEEPING_419982C } from "../fixtures/schemas-419982c.js";
import { schemaShape } from "../fixtures/schema-shape.js";
import { startService } from "../producer/harness.js";
import { CONSUMER_MAIN } from "./harness.js";

const stack = inject("stack");

describe("bookkeeping schema upgrade", () => {
  let old: TestDatabase;
  let fresh: TestDatabase;
  let o: pg.Client;
  let f: pg.Client;

  beforeAll(async () => {
    [old, fresh] = await Promise.all([createTestDatabase(stack.target, "bk_upgrade"), createTestDatabase(stack.target, "bk_fresh")]);
    o = await connect(old.url, { applicationName: "test-bk-upgrade" });
    f = await connect(fresh.url, { applicationName: "test-bk-fresh" });
    // The target as 419982c's consumer left it, with some of everything in it.
    for (const sql of BOOKKEEPING_419982C) await o.query(sql);
    await o.query(`INSERT INTO zeroloss.applied_positions (topic, partition, next_offset, consumer_group) VALUES ('zl.public.a', 0, 1500, 'g'), ('zl.public.a', 1, 7, 'g'), ('other.x', 0, 3, 'g')`);
    await o.query(
      `INSERT INTO zeroloss.quarantine (topic, partition, "offset", reason_code, reason, table_name, record_key, differing_columns, value)
       VALUES ('zl.public.a', 1, 6, 'CHECKSUM_MISMATCH', 'checksum differs', 'public.a', '{"id":6}', '{amount}', '\\x0102')`,
    );
    await o.query(`INSERT INTO zeroloss.tombstones VALUES ('"public"."a"', '{"id":5}', '0/16B3748')`);
    await o.query(`INSERT INTO zeroloss.outbox (topic, key, value) VALUES ('zl.tallies', 'zl.public.a:0', '\\x7b7d')`);
  });
  afterAll(async () => {
    await o?.end();
    await f?.end();
    await old?.drop();
    await fresh?.drop();
  });

  it("adopts the previous release's schema: step 1 applies over it, every row survives, the version table says the latest step; again, nothing happens", async () => {
    const heard: AppliedStep[] = [];
    await ensureBookkeeping(o, (s) => heard.push(s));
    expect(heard.map((s) => `${s.schema} ${s.version} ${s.name}`)).toEqual(BOOKKEEPING_MIGRATIONS.map((m) => `zeroloss ${m.version} ${m.name}`));
    const versions = await o.query<{ version: string; name: string }>("SELECT version, name FROM zeroloss.migrations ORDER BY version");
    expect(versions.rows).toEqual(BOOKKEEPING_MIGRATIONS.map((m) => ({ version: String(m.version), name: m.name })));

    // The verifier's read of the applied positions, through the shared declaration.
    expect(await readAppliedPositions(o, "zl.")).toMatchObject([
      { topic: "zl.public.a", partition: "0", next_offset: "1500", consumer_group: "g" },
      { topic: "zl.public.a", partition: "1", next_offset: "7", consumer_group: "g" },
    ]);
    const q = await o.query<QuarantineRow>(`SELECT ${QUARANTINE.columns.map((c) => `"${c}"`).join(", ")} FROM ${QUARANTINE.sql}`);
    expect(q.rows).toMatchObject([{ topic: "zl.public.a", offset: "6", reason_code: "CHECKSUM_MISMATCH", differing_columns: "{amount}", value: "\\x0102", expected_checksum: null }]);
    expect((await o.query("SELECT key, lsn::text FROM zeroloss.tombstones")).rows).toEqual([{ key: '{"id":5}', lsn: "0/16B3748" }]);
    expect((await o.query("SELECT count(*) AS n FROM zeroloss.outbox")).rows).toEqual([{ n: "1" }]);

    heard.length = 0;
    await ensureBookkeeping(o, (s) => heard.push(s));
    expect(heard).toEqual([]);
    expect((await o.query("SELECT count(*) AS n FROM zeroloss.migrations")).rows).toEqual([{ n: String(BOOKKEEPING_MIGRATIONS.length) }]);
  });

  it("the upgraded schema is the one a fresh target gets, and its tables are the ones @zeroloss/bookkeeping declares", async () => {
    await ensureBookkeeping(f);
    const upgraded = await schemaShape(o, BOOKKEEPING_SCHEMA);
    expect(upgraded).toEqual(await schemaShape(f, BOOKKEEPING_SCHEMA));
    const declared = await f.query<{ table: string; columns: string[] | string }>(
      `SELECT c.relname AS table, array_agg(a.attname::text ORDER BY a.attnum) AS columns FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r' AND c.relname <> 'migrations' AND a.attnum > 0 AND NOT a.attisdropped GROUP BY c.relname ORDER BY c.relname`,
      [BOOKKEEPING_SCHEMA],
    );
    const asArray = (v: string[] | string) => (Array.isArray(v) ? v : v.replace(/^\{|\}$/g, "").split(","));
    expect(declared.rows.map((r) => ({ table: r.table, columns: asArray(r.columns) }))).toEqual(
      [...BOOKKEEPING_TABLES].sort((x, y) => x.name.localeCompare(y.name)).map((t) => ({ table: t.name, columns: [...t.columns] })),
    );
    expect(APPLIED_POSITIONS.sql).toBe('"zeroloss"."applied_positions"');
  });

  it("a target a newer release migrated: refused with SCHEMA_NEWER_THAN_CODE naming schema and versions, and the consumer stops at start on it", async () => {
    const code = BOOKKEEPING_MIGRATIONS.length;
    await f.query("INSERT INTO zeroloss.migrations (version, name) VALUES ($1, 'from-the-future')", [code + 1]);
    await expect(ensureBookkeeping(f)).rejects.toMatchObject({
      code: "SCHEMA_NEWER_THAN_CODE",
      retriable: false,
      message: expect.stringMatching(new RegExp(`^schema zeroloss \\(the consumer's bookkeeping in the target\\) is at version ${code + 1}, newer than this zeroloss knows \\(version ${code}\\)`)),
      details: { schema: "zeroloss", databaseVersion: code + 1, codeVersion: code },
    });

    // The consumer process: its start-up (before it joins the group) stops on it, exit 1.
    const dir = mkdtempSync(join(tmpdir(), "zeroloss-bk-upgrade-"));
    const configFile = join(dir, "zeroloss.yaml");
    const port = String(await freePort());
    writeFileSync(
      configFile,
      JSON.stringify({ source: { url: fresh.url }, target: { url: fresh.url }, kafka: { brokers: [...stack.kafka], topicPrefix: "zl_bk_upgrade" }, log: { level: "warn" } }),
    );
    const consumer = startService(CONSUMER_MAIN, "ZEROLOSS_CONSUMER_HTTP_PORT", configFile, [], { ZEROLOSS_CONSUMER_HTTP_PORT: port });
    try {
      await consumer.exitWithin(30_000);
      expect(consumer.proc.exitCode, consumer.output()).toBe(1);
      expect(consumer.output()).toContain("SCHEMA_NEWER_THAN_CODE");
      expect(consumer.output()).toContain(`is at version ${code + 1}, newer than this zeroloss knows (version ${code})`);
    } finally {
      await consumer.stop("SIGKILL");
    }
  });
});
