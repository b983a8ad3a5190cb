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

const stack = inject("stack");

/** A column of the test table: its SQL type and the edge values (SQL expressions) it cycles through. */
interface Spec {
  readonly name: string;
  readonly type: string;
  readonly values: readonly string[];
}

const ALL_BYTES = `(SELECT string_agg(set_byte('\\x00'::bytea, 0, g), ''::bytea ORDER BY g) FROM generate_series(0, 255) g)`;

const SPECS: readonly Spec[] = [
  { name: "row_no", type: "integer", values: [] }, // filled with the row number
  { name: "c_int2", type: "int2", values: ["-32768", "32767", "0", "-1"] },
  { name: "c_int4", type: "int4", values: ["-2147483648", "2147483647", "0"] },
  { name: "c_int8", type: "int8", values: ["-9223372036854775808", "9223372036854775807", "0"] },
  {
    name: "c_numeric",
    type: "numeric",
    values: [
      "'NaN'",
      "'Infinity'",
      "'-Infinity'",
      `repeat('9', 1000)::numeric`,
      `('0.' || repeat('0', 999) || '1')::numeric`,
      "0.000001",
      "-0.000001",
      "1.10",
      "1.1",
      "'-0'",
      "1e-20",
      "123456789012345678901234567890.123456789",
    ],
  },
  { name: "c_numeric_18_4", type: "numeric(18,4)", values: ["1.1", "0", "-99999999999999.9999", "0.00005", "12.3456"] },
  { name: "c_float4", type: "float4", values: ["'NaN'", "'Infinity'", "'-Infinity'", "'-0'", "'1e-40'", "'0.1'", "'3.4028235e38'", "'1.4e-45'"] },
  {
    name: "c_float8",
    type: "float8",
    values: ["'NaN'", "'Infinity'", "'-Infinity'", "'-0'", "'1e-310'", "'0.1'", "'1.7976931348623157e308'", "'5e-324'", "'0.30000000000000004'", "'1e22'"],
  },
  { name: "c_bool", type: "bool", values: ["true", "false"] },
  {
    name: "c_text",
    type: "text",
    values: [
      "'😀 👍🏽 👩‍👩‍👧‍👦'",
      "'e\u0301 vs \u00e9'", // combining acute vs precomposed
      "E'\\x01\\x02\\t\\n\\r\\x1b\\x7f\\u0085\\u2028'", // control characters (no NUL: PostgreSQL text cannot hold it)
      "'trailing spaces   '",
      "''",
      "'back\\slash ''quote'' \"dq\"'",
      "E'\\uFEFFbom and \\u200Bzero width'",
      "'NULL'",
    ],
  },
  { name: "c_varchar", type: "varchar(10)", values: ["'abc  '", "''", "'ten chars!'", "'ünï😀'"] },
  { name: "c_char", type: "char(8)", values: ["'ab'", "''", "'abcdefgh'", "'😀'", "'  x'"] },
  { name: "c_bpchar", type: "bpchar", values: ["'x  '", "''", "' lead'"] },
  { name: "c_bytea", type: "bytea", values: [ALL_BYTES, "'\\x'::bytea", "'\\x00'::bytea", "convert_to('😀', 'UTF8')"] },
  { name: "c_date", type: "date", values: ["'infinity'", "'-infinity'", "'0044-03-15 BC'", "'2024-02-29'", "'4713-01-01 BC'", "'5874897-12-31'", "'0001-01-01'"] },
  {
    name: "c_timestamp",
    type: "timestamp",
    values: ["'infinity'", "'-infinity'", "'0044-03-15 12:00:00.123456 BC'", "'2000-01-01 00:00:00'", "'294276-12-31 23:59:59.999999'", "'2026-03-14 09:26:53.000001'"],
  },
  {
    name: "c_timestamptz",
    type: "timestamptz",
    values: [
      "'infinity'",
      "'-infinity'",
      "'2026-03-14 09:26:53.589793+05:30'",
      "'0001-01-01 00:00:00+00 BC'",
      "'1900-01-01 00:00:00+00'",
      "'2026-10-25 01:30:00 Europe/Berlin'",
      "'1999-12-31 23:59:59.999999-12'",
    ],
  },
  { name: "c_time", type: "time", values: ["'00:00:00'", "'23:59:59.999999'", "'24:00:00'", "'12:34:56.5'"] },
  { name: "c_timetz", type: "timetz", values: ["'00:00:00+14'", "'23:59:59.999999-12:34'", "'12:00:00+05:30:15'", "'08:00:00+00'"] },
  {
    name: "c_interval",
    type: "interval",
    values: ["'-1 year -2 months +3 days -04:05:06.789012'", "'1 mon 2 days 00:00:00.000001'", "'0'", "'178000000 years'", "'-0.000001 seconds'", "'25 hours'"],
  },
  { name: "c_uuid", type: "uuid", values: ["'00000000-0000-0000-0000-000000000000'", "'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'", "'{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}'"] },
  { name: "c_json", type: "json", values: [`'{"a":1,"a":2}'`, `'  { "b" : [1, 2.50 ] }  '`, `'"\\u00e9 \\u0000"'`, "'null'", `'[]'`] },
  { name: "c_jsonb", type: "jsonb", values: [`'{"b":1,"a":[1,2.50,null],"a":3}'`, `'"😀"'`, "'null'", `'{"k": "\\u00e9"}'`, "'1e3'"] },
  { name: "c_int_arr", type: "int[]", values: ["'{1,NULL,3}'", "'{}'", "'{{1,2},{3,4}}'", "'[0:1]={1,2}'"] },
  { name: "c_text_arr", type: "text[]", values: [`'{"a,b","c\\"d",NULL,"NULL",""," x ","back\\\\slash"}'`, "'{}'", `ARRAY['😀', '{', '}']`] },
  { name: "c_char_arr", type: "char(4)[]", values: ["'{a,bc}'", "'{NULL,\"\"}'"] },
  { name: "c_bool_arr", type: "bool[]", values: ["'{t,f,NULL}'"] },
  { name: "c_numeric_arr", type: "numeric[]", values: ["'{NaN,1.10,-0.000001}'"] },
  { name: "c_float8_arr", type: "float8[]", values: ["'{-0,1e-310,NaN,Infinity,0.1}'"] },
  { name: "c_int4range", type: "int4range", values: ["'empty'", "'(,)'", "'[1,10)'", "'(0,5]'", "'[3,)'"] },
  { name: "c_tstzrange", type: "tstzrange", values: ["'empty'", "'(,)'", "'[2020-01-01 00:00:00+02,infinity)'", `'["2020-01-01 00:00:00.000001+00",)'`] },
  { name: "c_enum", type: "mood", values: ["'happy'", "'sad face'", "'ünïcödé'"] },
  { name: "c_domain_numeric", type: "amount", values: ["1.5", "0", "9999999999.99"] },
  { name: "c_domain_bool", type: "flag", values: ["true", "false"] },
  { name: "c_domain_char", type: "code", values: ["'ab'", "''", "'abcde'"] },
  { name: "c_inet", type: "inet", values: ["'192.168.0.1'", "'10.0.0.0/8'", "'::1'", "'2001:db8::1/64'", "'192.168.0.1/24'"] },
  { name: "c_cidr", type: "cidr", values: ["'10.0.0.0/8'", "'2001:db8::/32'", "'192.168.1.0/24'", "'192.168.1.7'"] },
  { name: "c_composite", type: "pair", values: [`'(1,"a b")'`, "'(,)'", "ROW(NULL, '')::pair"] },
  { name: "c_bit", type: "bit(4)", values: ["B'1010'", "B'0000'"] },
  { name: "c_varbit", type: "varbit", values: ["B''", "B'101'"] },
  { name: "c_macaddr", type: "macaddr", values: ["'08:00:2B:01:02:03'"] },
  { name: "c_char1", type: `"char"`, values: [`'a'`, `''`] },
  { name: "c_name", type: "name", values: ["'pg_catalog'", "'😀'"] },
  { name: "c_xml", type: "xml", values: [`'<a b="1">x &amp; y</a>'`, "'plain text'"] },
  { name: "c_point", type: "point", values: ["'(1.5,-0)'", "'(0.1,1e-310)'"] },
  { name: "c_tsvector", type: "tsvector", values: [`'b a a:1 ''x y'''`] },
  { name: `Quoted "Name" col`, type: "text", values: ["'case and spaces in the name'"] },
];

const ROWS = Math.max(...SPECS.map((s) => s.values.length));

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
    await sql.query(`CREATE TYPE mood AS ENUM ('happy', 'sad face', 'ünïcödé')`);
    await sql.query(`CREATE DOMAIN amount AS numeric(12,2) CHECK (VALUE >= 0)`);
    await sql.query(`CREATE DOMAIN flag AS boolean`);
    await sql.query(`CREATE DOMAIN code AS character(5)`);
    await sql.query(`CREATE TYPE pair AS (a int, b text)`);
    await sql.query(`CREATE TABLE edge (${SPECS.map((s) => `${quoteIdent(s.name)} ${s.type}`).join(", ")})`);
    for (let i = 0; i < ROWS; i++) {
      const values = SPECS.map((s) => (s.name === "row_no" ? String(i) : (s.values[i % s.values.length] ?? "NULL")));
      await sql.query(`INSERT INTO edge VALUES (${values.join(", ")})`);
    }
    await sql.query(`INSERT INTO edge DEFAULT VALUES`); // every column NULL
    columns = await columnsOf("edge");
  });

  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  it("covers every type with the names an envelope carries", () => {
    expect(columns.map((c) => c.name)).toEqual(SPECS.map((s) => s.name));
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
    expect(res.rows.length).toBe(ROWS + 1);
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
    expect(res.rows.length).toBe(ROWS + 1);
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
