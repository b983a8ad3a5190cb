import { describe, expect, it } from "vitest";
import type { TableInfo, TargetTableShape } from "@zeroloss/pg";
import { compareTargetTable } from "./target-table-findings.js";

const col = (name: string, sqlType: string, attnum: number) => ({ name, typeOid: 0, typeMod: -1, sqlType, attnum });
const source: TableInfo = {
  schema: "public",
  name: "accounts",
  oid: 1,
  columns: [col("id", "bigint", 1), col("owner", "text", 2), col("balance", "numeric(12,2)", 3), col("code", "integer", 4)],
  keyColumns: ["id"],
  estimatedRows: null,
};
const same = (column: string) => source.columns.find((c) => c.name === column)?.sqlType ?? null;
const target = (over: Partial<TargetTableShape> = {}): TargetTableShape => ({
  columns: [
    { name: "id", type: "bigint", required: true },
    { name: "owner", type: "text", required: false },
    { name: "balance", type: "numeric(12,2)", required: false },
    { name: "code", type: "integer", required: false },
    { name: "_zeroloss_lsn", type: "pg_lsn", required: false },
  ],
  key: ["id"],
  ...over,
});
const summary = (r: ReturnType<typeof compareTargetTable>) => r.findings.map((f) => `${f.severity} ${f.check} ${f.object.name}${f.code === undefined ? "" : ` ${f.code}`}`);

describe("zeroloss check: a target table against the source's, by the consumer's rules", () => {
  it("the same table: nothing to say, nothing to alter", () => {
    expect(compareTargetTable(source, target(), same, "apply")).toEqual({ findings: [], alters: [] });
  });

  it("without the hidden LSN column: the consumer adds it (an alter, not a finding)", () => {
    const t = target();
    const r = compareTargetTable(source, { ...t, columns: t.columns.filter((c) => c.name !== "_zeroloss_lsn") }, same, "stop");
    expect(r).toEqual({ findings: [], alters: ["add its hidden column _zeroloss_lsn"] });
  });

  it("a missing column, a widening and an extra NOT NULL column: warnings under apply (the consumer fits them), errors under stop", () => {
    const t = target({
      columns: [
        { name: "id", type: "bigint", required: true },
        { name: "balance", type: "numeric(12,2)", required: false },
        { name: "code", type: "smallint", required: false },
        { name: "legacy", type: "text", required: true },
        { name: "note", type: "text", required: false },
        { name: "_zeroloss_lsn", type: "pg_lsn", required: false },
      ],
    });
    const apply = compareTargetTable(source, t, same, "apply");
    expect(summary(apply)).toEqual([
      "warning column-missing public.accounts.owner",
      "warning column-type public.accounts.code",
      "warning column-extra public.accounts.legacy",
      "warning column-extra public.accounts.note",
    ]);
    expect(apply.findings[0]?.problem).toContain("target.schemaChanges is apply: the consumer adds it");
    expect(apply.alters).toEqual(["add column owner", "widen column code to integer", "drop NOT NULL of column legacy"]);

    const stop = compareTargetTable(source, t, same, "stop");
    expect(summary(stop)).toEqual([
      "error column-missing public.accounts.owner TARGET_COLUMN_MISSING",
      "error column-type public.accounts.code TARGET_COLUMN_TYPE",
      "error column-extra public.accounts.legacy PG_QUERY_FAILED",
      "warning column-extra public.accounts.note",
    ]);
    expect(stop.findings[0]?.fix).toBe('ALTER TABLE "public"."accounts" ADD COLUMN "owner" text;');
    expect(stop.alters).toEqual([]);
  });

  it("a narrower source type or another key: errors whatever schemaChanges says", () => {
    const t = target({ columns: target().columns.map((c) => (c.name === "code" ? { ...c, type: "bigint" } : c)), key: ["id", "code"] });
    for (const mode of ["apply", "stop"] as const) {
      expect(summary(compareTargetTable(source, t, same, mode))).toEqual(["error column-type public.accounts.code TARGET_COLUMN_TYPE", "error key-mismatch public.accounts TARGET_KEY_MISMATCH"]);
    }
  });

  it("a column whose type the target lacks is left to the type check", () => {
    const t = target({ columns: target().columns.map((c) => (c.name === "owner" ? { ...c, type: "character varying(3)" } : c)) });
    expect(compareTargetTable(source, t, (c) => (c === "owner" ? null : same(c)), "apply").findings).toEqual([]);
  });

  it("an LSN column of another type stops the consumer", () => {
    const t = target({ columns: target().columns.map((c) => (c.name === "_zeroloss_lsn" ? { ...c, type: "text" } : c)) });
    expect(summary(compareTargetTable(source, t, same, "apply"))).toEqual(["error lsn-column-type public.accounts._zeroloss_lsn TARGET_COLUMN_TYPE"]);
  });
});
