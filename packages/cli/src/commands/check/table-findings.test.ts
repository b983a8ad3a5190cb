import { describe, expect, it } from "vitest";
import type { ReplicaIdentityFacts, TableInfo } from "@zeroloss/pg";
import { tableFindings } from "./table-findings.js";

const table = (name: string, keyColumns: string[], columns = ["id", "v"]): TableInfo => ({
  schema: "public",
  name,
  oid: 1,
  columns: columns.map((c, i) => ({ name: c, typeOid: 23, typeMod: -1, sqlType: "integer", attnum: i + 1 })),
  keyColumns,
  estimatedRows: null,
});
const facts = (name: string, identity: ReplicaIdentityFacts["identity"], hasPrimaryKey: boolean, candidateIndexes: string[] = []): [string, ReplicaIdentityFacts] => [
  `public.${name}`,
  { table: { schema: "public", name }, identity, hasPrimaryKey, candidateIndexes },
];
const patterns = { tables: ["public.*"], exclude: [] };

describe("zeroloss check: tables and keys", () => {
  it("no table chosen: one error on source.tables", () => {
    expect(tableFindings([], new Map(), { tables: ["app.*"], exclude: ["app.tmp"] })).toMatchObject([
      { severity: "error", check: "no-tables", object: { kind: "setting", name: "source.tables" }, code: "NO_TABLES", problem: 'no table of the source matches ["app.*"] minus source.exclude ["app.tmp"]' },
    ]);
  });

  it("names each table without a key, with the fix its catalog allows", () => {
    const found = tableFindings(
      [table("events", []), table("codes", []), table("muted", []), table("wide", [])],
      new Map([facts("events", "default", false), facts("codes", "default", false, ["codes_code_key"]), facts("muted", "nothing", true), facts("wide", "full", false)]),
      patterns,
    );
    expect(found.map((f) => [f.object.name, f.code])).toEqual([
      ["public.events", "TABLE_WITHOUT_KEY"],
      ["public.codes", "TABLE_WITHOUT_KEY"],
      ["public.muted", "TABLE_WITHOUT_KEY"],
      ["public.wide", "TABLE_WITHOUT_KEY"],
    ]);
    expect(found[0]?.fix).toMatch(/^ALTER TABLE "public"."events" ADD PRIMARY KEY \(…\); or create a unique index .* source.exclude: \["public.events"\]$/);
    expect(found[1]?.fix).toMatch(/^ALTER TABLE "public"."codes" REPLICA IDENTITY USING INDEX "codes_code_key";/);
    expect(found[2]?.problem).toMatch(/^has REPLICA IDENTITY NOTHING: /);
    expect(found[2]?.fix).toMatch(/^ALTER TABLE "public"."muted" REPLICA IDENTITY DEFAULT;/);
    expect(found[3]?.problem).toMatch(/^has REPLICA IDENTITY FULL and no primary key: /);
  });

  it("REPLICA IDENTITY FULL with a primary key: a warning that rows are keyed by it and old rows travel whole", () => {
    const found = tableFindings([table("accounts", ["id"])], new Map([facts("accounts", "full", true)]), patterns);
    expect(found).toMatchObject([{ severity: "warning", check: "replica-identity-full", object: { name: "public.accounts" } }]);
    expect(found[0]?.problem).toContain("keys its rows by the primary key (id)");
  });

  it("a column named like zeroloss's own in the target: an error", () => {
    const found = tableFindings([table("t", ["id"], ["id", "_zeroloss_lsn", "zl$x"])], new Map([facts("t", "default", true)]), patterns);
    expect(found.map((f) => [f.object.name, f.code])).toEqual([
      ["public.t._zeroloss_lsn", "TARGET_COLUMN_RESERVED"],
      ["public.t.zl$x", "TARGET_COLUMN_RESERVED"],
    ]);
  });
});
