// Stored generated columns: PostgreSQL computes them on each side, so zeroloss carries the
// columns they are computed from and never the generated value itself. pgoutput leaves them
// out before 18, and on 18 too unless a publication asks with publish_generated_columns (the
// producer's own publication does not); the checksum and the verifier leave them out alike.
// The target, made with the same definition, computes the same values. Runs on every version
// of the matrix (scripts/test-versions.mjs), 18 included.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { pipelineFixture, sourceClient, waitForEqual, type PipelineFixture, type TableSpec } from "./harness.js";

const DDL = `CREATE TABLE lines (
  id bigint PRIMARY KEY,
  qty int NOT NULL,
  price numeric(12,2) NOT NULL,
  total numeric(14,2) GENERATED ALWAYS AS (qty * price) STORED,
  label text GENERATED ALWAYS AS ('line ' || id::text) STORED
)`;
const SOURCE_COLUMNS: TableSpec = { name: "public.lines", columns: ["id", "qty", "price"], key: ["id"] };
const ALL_COLUMNS: TableSpec = { name: "public.lines", columns: ["id", "qty", "price", "total", "label"], key: ["id"] };

describe("stored generated columns", () => {
  let f: PipelineFixture;
  let src: pg.Client;

  beforeAll(async () => {
    f = await pipelineFixture(inject("stack"), "generated");
    src = await sourceClient(f);
    await src.query(DDL);
    await f.target.query(DDL);
    // PostgreSQL 18's virtual generated columns (computed on read, never stored): left out alike.
    for (const c of [src, f.target]) {
      if (Number((await c.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v) >= 180000) {
        await c.query("ALTER TABLE lines ADD COLUMN doubled int GENERATED ALWAYS AS (qty * 2) VIRTUAL");
      }
    }
    await src.query("INSERT INTO lines (id, qty, price) SELECT i, i % 7, i * 0.25 FROM generate_series(1, 300) i");
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
  });

  it("streams the columns they come from; the target computes the same generated values", async () => {
    const producer = await f.start();
    const consumer = await f.startConsumer();
    await waitForEqual(f, src, [SOURCE_COLUMNS], [producer, consumer]);
    await src.query("UPDATE lines SET qty = qty + 1 WHERE id % 3 = 0");
    await src.query("INSERT INTO lines (id, qty, price) VALUES (1001, 4, 2.5)");
    await src.query("DELETE FROM lines WHERE id % 10 = 0");
    await waitForEqual(f, src, [SOURCE_COLUMNS], [producer, consumer]);
    // The generated values too, computed by the target from what it received.
    await waitForEqual(f, src, [ALL_COLUMNS], [producer, consumer]);
    const row = await f.target.query<{ total: string; label: string }>("SELECT total::text, label FROM lines WHERE id = 1001");
    expect(row.rows[0]).toEqual({ total: "10.00", label: "line 1001" });
    const virtual = await f.target.query<{ doubled: string }>("SELECT doubled::text FROM lines WHERE id = 1001").catch(() => null);
    const onTarget18 = Number((await f.target.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v) >= 180000;
    expect(virtual?.rows[0] ?? null).toEqual(onTarget18 ? { doubled: "8" } : null);
    const quarantine = await f.target.query<{ n: string }>("SELECT count(*)::text AS n FROM zeroloss.quarantine");
    expect(quarantine.rows[0]?.n).toBe("0");
  });
});
