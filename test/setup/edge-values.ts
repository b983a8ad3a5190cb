// Every supported type's edge values, as SQL expressions: the corpus the checksum property
// test (test/checksum) and the encoding tests (test/avro) push through real PostgreSQL.
import { quoteIdent } from "@zeroloss/checksum";
import type pg from "pg";

/** A column of the test table: its SQL type and the edge values (SQL expressions) it cycles through. */
export interface Spec {
  readonly name: string;
  readonly type: string;
  readonly values: readonly string[];
}

const ALL_BYTES = `(SELECT string_agg(set_byte('\\x00'::bytea, 0, g), ''::bytea ORDER BY g) FROM generate_series(0, 255) g)`;

export const EDGE_SPECS: readonly Spec[] = [
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

export const EDGE_ROWS = Math.max(...EDGE_SPECS.map((s) => s.values.length));

/** The user-defined types the corpus uses (an enum, domains, a composite), in a source or a target database. */
export async function createEdgeTypes(sql: pg.Client): Promise<void> {
  await sql.query(`CREATE TYPE mood AS ENUM ('happy', 'sad face', 'ünïcödé')`);
  await sql.query(`CREATE DOMAIN amount AS numeric(12,2) CHECK (VALUE >= 0)`);
  await sql.query(`CREATE DOMAIN flag AS boolean`);
  await sql.query(`CREATE DOMAIN code AS character(5)`);
  await sql.query(`CREATE TYPE pair AS (a int, b text)`);
}

/** CREATE TABLE of one column per spec; `keyed`: row_no is the primary key (a pipeline needs one). */
export function edgeTableSql(table: string, keyed: boolean): string {
  return `CREATE TABLE ${table} (${EDGE_SPECS.map((s) => `${quoteIdent(s.name)} ${s.type}${keyed && s.name === "row_no" ? " PRIMARY KEY" : ""}`).join(", ")})`;
}

/** INSERT of row i: each column cycles through its edge values; row_no is i. */
export function edgeRowSql(table: string, i: number): string {
  const values = EDGE_SPECS.map((s) => (s.name === "row_no" ? String(i) : (s.values[i % s.values.length] ?? "NULL")));
  return `INSERT INTO ${table} VALUES (${values.join(", ")})`;
}
