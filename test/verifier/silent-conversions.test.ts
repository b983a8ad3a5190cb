// The conversions that pass every row count: each is injected into one target row, and the
// verifier must name that row and that column, with both values. The target is a copy made
// by the test (same SQL on both servers), so nothing of the pipeline is involved: the
// verifier stands alone. Small leaf and chunk sizes make it bisect through several levels.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runVerify, verifierFixture, type Report, type VerifierFixture } from "./harness.js";

const ROWS = 2_000;

const CREATE = `CREATE TABLE payments (
  id bigint PRIMARY KEY,
  amount numeric(20,6) NOT NULL,
  booked_at timestamp NOT NULL,
  value_date date NOT NULL,
  doc json,
  payee text,
  memo text,
  ref text)`;

// Deterministic, so both servers hold the same rows: NFD accents, trailing spaces, json with
// a duplicate key and odd whitespace, NULLs in every other ref.
const FILL = `INSERT INTO payments
  SELECT i, i * 1.234567, timestamp '2026-01-01 08:00:00' + i * interval '17 minutes', date '2026-03-01' + (i % 10),
         ('{"id": ' || i || ',  "tags": ["x", "y"], "id": ' || (i + 1) || '}')::json,
         'Cafe' || U&'\\0301' || ' ' || i, 'memo ' || i || '   ',
         CASE WHEN i % 2 = 1 THEN NULL ELSE 'R' || i END
    FROM generate_series(1, ${ROWS}) i`;

type Row = Report["tables"][number]["rows"][number];

describe("verifier: silent conversions", () => {
  let f: VerifierFixture;

  beforeAll(async () => {
    f = await verifierFixture(inject("stack"), "vsilent", { verify: { leafRows: 40, fanout: 4, chunkRows: 500, settleSeconds: 5 } });
    await f.both(CREATE);
    await f.both(FILL);
    await f.both("ANALYZE payments");
  });

  afterAll(async () => {
    await f?.close();
  });

  const rowOf = (r: Report, id: number): Row | undefined => r.tables.find((t) => t.table === "public.payments")?.rows.find((row) => row.key["id"] === String(id));

  it("finds two equal copies equal, row for row", async () => {
    const run = await f.verify();
    expect(run.code, run.stderr).toBe(0);
    expect(run.report?.result).toBe("equal");
    const t = run.report!.tables.find((x) => x.table === "public.payments")!;
    expect(t).toMatchObject({ result: "equal", sourceRows: ROWS, targetRows: ROWS, driftRows: 0 });
    expect(t.rowsCompared).toBe(ROWS);
  });

  const cases: { what: string; id: number; column: string; damage: string; source: string | null; target: string | null }[] = [
    { what: "numeric precision reduced", id: 11, column: "amount", damage: "amount = round(amount, 2)", source: "13.580237", target: "13.580000" },
    { what: "a timestamp shifted by a time zone", id: 12, column: "booked_at", damage: "booked_at = (booked_at AT TIME ZONE 'UTC') AT TIME ZONE 'Europe/Berlin'", source: "2026-01-01 11:24:00", target: "2026-01-01 12:24:00" },
    { what: "a date read in another format (day and month swapped)", id: 13, column: "value_date", damage: "value_date = to_date(to_char(value_date, 'DD/MM/YYYY'), 'MM/DD/YYYY')", source: "2026-03-04", target: "2026-04-03" },
    { what: "JSON re-serialised (through jsonb)", id: 14, column: "doc", damage: "doc = doc::jsonb::json", source: '{"id": 14,  "tags": ["x", "y"], "id": 15}', target: '{"id": 15, "tags": ["x", "y"]}' },
    { what: "Unicode normalisation changed (NFD to NFC)", id: 15, column: "payee", damage: "payee = normalize(payee, NFC)", source: "Cafe\u0301 15", target: "Caf\u00e9 15" },
    { what: "trailing spaces trimmed", id: 16, column: "memo", damage: "memo = rtrim(memo)", source: "memo 16   ", target: "memo 16" },
    { what: "NULL turned into an empty string", id: 17, column: "ref", damage: "ref = ''", source: null, target: "" },
    { what: "text decoded in another encoding (UTF-8 read as Latin-1)", id: 18, column: "payee", damage: "payee = convert_from(convert_to(payee, 'UTF8'), 'LATIN1')", source: "Cafe\u0301 18", target: "Cafe\u00cc\u0081 18" },
  ];

  it.each(cases)("catches $what, naming row $id and column $column", async (c) => {
    await f.target.query(`UPDATE payments SET ${c.damage} WHERE id = $1`, [c.id]);
    const run = await f.verify();
    expect(run.code, run.stderr).toBe(1);
    expect(run.report?.result).toBe("drift");
    const row = rowOf(run.report!, c.id);
    expect(row, `row id=${c.id} in the report`).toBeDefined();
    expect(row).toMatchObject({ kind: "changed", settled: true });
    expect(row!.columns).toEqual([{ column: c.column, source: c.source, target: c.target }]);
    // the row counts still match: this is what a count-based check would have passed
    const t = run.report!.tables[0]!;
    expect(t.targetRows).toBe(t.sourceRows);
  });

  it("names a missing row and an extra row, and prints them for a person", async () => {
    await f.target.query("DELETE FROM payments WHERE id = 1999");
    await f.target.query("INSERT INTO payments (id, amount, booked_at, value_date) VALUES (5000, 1, now(), current_date)");
    const run = await f.verify();
    expect(run.code).toBe(1);
    expect(rowOf(run.report!, 1999)).toMatchObject({ kind: "missing", columns: [] });
    expect(rowOf(run.report!, 5000)).toMatchObject({ kind: "extra", columns: [] });
    expect(run.report!.tables[0]!.driftRows).toBe(cases.length + 2);

    const text = await f.verify([]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^DRIFT: 1 table\(s\) compared by content/);
    expect(text.stdout).toContain(`public.payments: ${cases.length + 2} row(s) differ`);
    expect(text.stdout).toContain("missing in the target: id=1999");
    expect(text.stdout).toContain("only in the target: id=5000");
    expect(text.stdout).toContain('changed: id=16\n      memo: source "memo 16   ", target "memo 16"');
    expect(text.stdout).toContain('ref: source NULL, target ""');
  });

  it("a column converted json → jsonb on the target: every re-serialised row, and the type change noted", async () => {
    await f.both("CREATE TABLE documents (id int PRIMARY KEY, body json)");
    await f.both(`INSERT INTO documents SELECT i, CASE WHEN i % 3 = 0 THEN '{"b":1,"a":2}' ELSE '{"a": 2, "b": 1}' END::json FROM generate_series(1, 90) i`);
    await f.target.query("ALTER TABLE documents ALTER COLUMN body TYPE jsonb USING body::jsonb");
    const run = await f.verify(["--json", "--tables", "public.documents"]);
    expect(run.code).toBe(1);
    const t = run.report!.tables.find((x) => x.table === "public.documents")!;
    expect(run.report!.tables).toHaveLength(1);
    expect(t.notes).toEqual(['column "body": source json, target jsonb']);
    expect(t.driftRows).toBe(30); // '{"b":1,"a":2}' comes back as '{"a": 2, "b": 1}'; the others print alike
    expect(t.rows.every((r) => Number(r.key["id"]) % 3 === 0 && r.columns[0]?.column === "body")).toBe(true);
  });

  it("bisects composite keys (text, int) down to the row", async () => {
    await f.both("CREATE TABLE entries (account text, seq int, amount numeric, PRIMARY KEY (account, seq))");
    await f.both(`INSERT INTO entries SELECT 'acct-' || (i % 7), i, i / 3.0 FROM generate_series(1, 1500) i`);
    await f.both("ANALYZE entries");
    await f.target.query("UPDATE entries SET amount = amount + 0.0000001 WHERE account = 'acct-3' AND seq = 1046");
    const run = await f.verify(["--json", "--tables", "public.entries"]);
    expect(run.code).toBe(1);
    const t = run.report!.tables[0]!;
    expect(t).toMatchObject({ table: "public.entries", sourceRows: 1500, targetRows: 1500, driftRows: 1 });
    expect(t.rows[0]).toMatchObject({ key: { account: "acct-3", seq: "1046" }, kind: "changed" });
    expect(t.rows[0]!.columns.map((c) => c.column)).toEqual(["amount"]);
  });

  it("structural drift: a table or column the target lacks is named; an unknown connection is an error (exit 2)", async () => {
    await f.source.query("CREATE TABLE only_source (id int PRIMARY KEY)");
    await f.both("CREATE TABLE narrow (id int PRIMARY KEY, a text, b text)");
    await f.target.query("ALTER TABLE narrow DROP COLUMN b");
    const run = await f.verify(["--json", "--tables", "public.only_source,public.narrow"]);
    expect(run.code).toBe(1);
    const byName = Object.fromEntries(run.report!.tables.map((t) => [t.table, t]));
    expect(byName["public.only_source"]?.problems).toEqual(["table public.only_source does not exist in the target"]);
    expect(byName["public.narrow"]?.problems).toEqual(['column "b" of public.narrow is missing in the target']);

    const unreachable = join(mkdtempSync(join(tmpdir(), "zeroloss-verifier-")), "zeroloss.yaml");
    writeFileSync(unreachable, readFileSync(f.configFile, "utf8").replace(f.targetDb.url, "postgres://zeroloss:x@127.0.0.1:1/nowhere"));
    const failed = await runVerify(unreachable, ["--json"]);
    expect(failed.code).toBe(2);
    expect(failed.report).toMatchObject({ result: "error", error: { code: "PG_UNREACHABLE" } });
    expect(failed.stderr).toContain("zeroloss verify: error [PG_UNREACHABLE]");
  });
});
