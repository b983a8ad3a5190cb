// Canonical row checksum v1: the TypeScript function (rowChecksum, what the producer
// computes from the decoded tuple) and the SQL expression (checksumSql + textOutputSql,
// what the target database computes over its stored row) agree byte for byte, for every
// supported type's edge values, on a real PostgreSQL.
//
// A table with one or more columns per type gets rows of edge values (and one row of all
// NULLs). Each row is read through a pinned connection (connect() from @zeroloss/pg: the
// server's own text output, as pgoutput sends it) and hashed in TypeScript; the same row is
// hashed in SQL. Per column we also compare the SQL text expression with the text output
// and the single-column checksums, so a failure names the column (and so the type) that
// broke and shows both texts.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { createTestDatabase, type TestDatabase } from "@zeroloss/devstack";
import { checksumSql, quoteIdent, rowChecksum, textOutputSql, UNCHANGED, type CellValue, type SqlChecksumColumn } from "@zeroloss/checksum";
import { connect } from "@zeroloss/pg";
import { createEdgeTypes, EDGE_ROWS, EDGE_SPECS, edgeRowSql, edgeTableSql } from "../setup/edge-values.js";

const stack = inject("stack");


interface Column {
  readonly name: string;
  /** format_type() of the column: what an envelope's column list carries. */
  readonly sqlType: string;
}

describe("canonical row checksum: SQL equals TypeScript on a real PostgreSQL", () => {
  let db: TestDatabase;
  let sql: pg.Client;
  let columns: Column[];

  const sqlColumn = (c: Column, unchangedSql?: string): SqlChecksumColumn => ({
    name: c.name,
    textSql: textOutputSql(`t.${quoteIdent(c.name)}`, c.sqlType),
    ...(unchangedSql === undefined ? {} : { unchangedSql }),
  });

  /** Every row of `table` as the server's text output, keyed by ctid. */
  async function readRows(table: string, cols: readonly Column[]): Promise<Map<string, CellValue[]>> {
    const list = cols.map((c) => `t.${quoteIdent(c.name)}`).join(", ");
    const res = await sql.query({ text: `SELECT t.ctid::text, ${list} FROM ${table} t`, rowMode: "array" });
    return new Map(res.rows.map((r: Array<string | null>) => [r[0] as string, r.slice(1)]));
  }

  async function columnsOf(table: string): Promise<Column[]> {
    const res = await sql.query<{ name: string; sqltype: string }>(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS sqltype FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [table],
    );
    return res.rows.map((r) => ({ name: r.name, sqlType: r.sqltype }));
  }

  beforeAll(async () => {
    db = await createTestDatabase(stack.source, "checksum_sql_ts");
    sql = await connect(db.url, { applicationName: "zeroloss-test-checksum" });
    await createEdgeTypes(sql);
    await sql.query(edgeTableSql("edge", false));
    for (let i = 0; i < EDGE_ROWS; i++) await sql.query(edgeRowSql("edge", i));
    await sql.query(`INSERT INTO edge DEFAULT VALUES`); // every column NULL
    columns = await columnsOf("edge");
  });

  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  it("covers every type with the names an envelope carries", () => {
    expect(columns.map((c) => c.name)).toEqual(EDGE_SPECS.map((s) => s.name));
    const types = new Map(columns.map((c) => [c.name, c.sqlType]));
    expect(types.get("c_char")).toBe("character(8)");
    expect(types.get("c_bpchar")).toBe("bpchar");
    expect(types.get("c_char_arr")).toBe("character(4)[]");
    expect(types.get("c_numeric_18_4")).toBe("numeric(18,4)");
    expect(types.get("c_domain_char")).toBe("code");
  });

  it("the SQL text expression of every column equals the text output, value by value", async () => {
    const rows = await readRows("edge", columns);
    const exprs = columns.map((c) => sqlColumn(c).textSql);
    const res = await sql.query({ text: `SELECT t.ctid::text, ${exprs.join(", ")} FROM edge t`, rowMode: "array" });
    const mismatches: string[] = [];
    for (const r of res.rows as Array<Array<string | null>>) {
      const output = rows.get(r[0] as string);
      columns.forEach((c, i) => {
        const viaSql = r[i + 1] ?? null;
        const viaOutput = output?.[i] ?? null;
        if (viaSql !== viaOutput) mismatches.push(`${c.name} (${c.sqlType}) at ${r[0]}: output ${JSON.stringify(viaOutput)}, SQL text ${JSON.stringify(viaSql)}`);
      });
    }
    expect(mismatches).toEqual([]);
  });

  it("the single-column checksum of every column agrees, so a failure names the type", async () => {
    const rows = await readRows("edge", columns);
    const sums = columns.map((c) => checksumSql([sqlColumn(c)]));
    const res = await sql.query({ text: `SELECT t.ctid::text, ${sums.join(", ")} FROM edge t`, rowMode: "array" });
    expect(res.rows.length).toBe(EDGE_ROWS + 1);
    const mismatches: string[] = [];
    for (const r of res.rows as string[][]) {
      const values = rows.get(r[0] as string) ?? [];
      columns.forEach((c, i) => {
        const ts = rowChecksum([c.name], [values[i] ?? null]);
        if (r[i + 1] !== ts) mismatches.push(`${c.name} (${c.sqlType}) at ${r[0]}, value ${JSON.stringify(values[i])}: TS ${ts}, SQL ${r[i + 1]}`);
      });
    }
    expect(mismatches).toEqual([]);
  });

  it("the whole-row checksum agrees for every row, including the all-NULL row", async () => {
    const rows = await readRows("edge", columns);
    const res = await sql.query<{ ctid: string; sum: string }>(`SELECT t.ctid::text AS ctid, ${checksumSql(columns.map((c) => sqlColumn(c)))} AS sum FROM edge t`);
    expect(res.rows.length).toBe(EDGE_ROWS + 1);
    const names = columns.map((c) => c.name);
    let allNull = 0;
    for (const r of res.rows) {
      const values = rows.get(r.ctid) ?? [];
      if (values.every((v) => v === null)) allNull++;
      expect(r.sum, `row ${r.ctid}`).toBe(rowChecksum(names, values));
      expect(r.sum).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(allNull).toBe(1);
  });

  it("an unchangedSql of true equals UNCHANGED in that column, for every column", async () => {
    const rows = await readRows("edge", columns);
    const names = columns.map((c) => c.name);
    for (const [i, col] of columns.entries()) {
      const expr = checksumSql(columns.map((c, j) => sqlColumn(c, j === i ? "true" : undefined)));
      const res = await sql.query<{ ctid: string; sum: string }>(`SELECT t.ctid::text AS ctid, ${expr} AS sum FROM edge t`);
      for (const r of res.rows) {
        const values = [...(rows.get(r.ctid) ?? [])];
        const plain = rowChecksum(names, values);
        values[i] = UNCHANGED;
        expect(r.sum, `${col.name} unchanged, row ${r.ctid}`).toBe(rowChecksum(names, values));
        expect(r.sum).not.toBe(plain);
      }
    }
    // A false marker leaves the value (or the NULL) in place.
    const expr = checksumSql(columns.map((c) => sqlColumn(c, "false")));
    const res = await sql.query<{ ctid: string; sum: string }>(`SELECT t.ctid::text AS ctid, ${expr} AS sum FROM edge t`);
    for (const r of res.rows) expect(r.sum).toBe(rowChecksum(names, rows.get(r.ctid) ?? []));
  });

  describe("the checksum follows the value, not its spelling", () => {
    let cols: Column[];
    const checksums = async (): Promise<Map<string, { ts: string; sql: string }>> => {
      const rows = await readRows("change", cols);
      const res = await sql.query<{ ctid: string; label: string; sum: string }>(
        `SELECT t.ctid::text AS ctid, t.label, ${checksumSql(cols.map((c) => sqlColumn(c)))} AS sum FROM change t`,
      );
      const names = cols.map((c) => c.name);
      return new Map(res.rows.map((r) => [r.label, { ts: rowChecksum(names, rows.get(r.ctid) ?? []), sql: r.sum }]));
    };

    beforeAll(async () => {
      await sql.query(`CREATE TABLE change (label text, n numeric, n4 numeric(10,4), ts timestamptz, c char(4))`);
      await sql.query(`INSERT INTO change VALUES
        ('base',        1.1,  1.1,    '2026-01-01 12:00:00+00', 'a'),
        ('n 1.10',      1.10, 1.1,    '2026-01-01 12:00:00+00', 'a'),
        ('n4 1.10',     1.1,  1.10,   '2026-01-01 12:00:00+00', 'a'),
        ('ts +01',      1.1,  1.1,    '2026-01-01 12:00:00+01', 'a'),
        ('ts same',     1.1,  1.1,    '2026-01-01 13:00:00+01', 'a'),
        ('c pad',       1.1,  1.1,    '2026-01-01 12:00:00+00', 'a   ')`);
      // The label only names the variant: it stays out of the checksum.
      cols = (await columnsOf("change")).filter((c) => c.name !== "label");
    });

    it("both sides agree on every variant", async () => {
      for (const [label, s] of await checksums()) expect(s.sql, label).toBe(s.ts);
    });

    it("numeric 1.10 and 1.1 differ (different text output), numeric(10,4) rounds both to 1.1000", async () => {
      const s = await checksums();
      const base = s.get("base")?.ts;
      expect(s.get("n 1.10")?.ts).not.toBe(base);
      expect(s.get("n 1.10")?.sql).not.toBe(s.get("base")?.sql);
      expect(s.get("n4 1.10")?.ts).toBe(base);
    });

    it("a timestamptz shifted by a time zone differs; the same instant spelled in another zone does not", async () => {
      const s = await checksums();
      const base = s.get("base")?.ts;
      expect(s.get("ts +01")?.ts).not.toBe(base);
      expect(s.get("ts same")?.ts).toBe(base);
      expect(s.get("c pad")?.ts).toBe(base); // char(4) pads 'a' and 'a   ' alike
    });

    it("an unpinned TimeZone changes the text output, and so the checksum: why every connection pins it", async () => {
      const expr = checksumSql(cols.map((c) => sqlColumn(c)));
      const pinned = (await sql.query<{ sum: string }>(`SELECT ${expr} AS sum FROM change t WHERE label = 'base'`)).rows[0]?.sum;
      await sql.query(`SET TimeZone = 'Asia/Kolkata'`);
      try {
        const shifted = (await sql.query<{ sum: string }>(`SELECT ${expr} AS sum FROM change t WHERE label = 'base'`)).rows[0]?.sum;
        expect(shifted).not.toBe(pinned);
      } finally {
        await sql.query(`RESET TimeZone`);
      }
      const again = (await sql.query<{ sum: string; tz: string }>(`SELECT ${expr} AS sum, current_setting('TimeZone') AS tz FROM change t WHERE label = 'base'`)).rows[0];
      expect(again).toEqual({ sum: pinned, tz: "UTC" });
    });
  });
});
