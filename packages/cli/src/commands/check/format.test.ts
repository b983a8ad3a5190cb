import { describe, expect, it } from "vitest";
import { AREAS, checkExitCode, summarize, type CheckReport, type Finding } from "./finding.js";
import { formatReport, reportJson } from "./format.js";

const warning: Finding = {
  area: "source-settings",
  severity: "warning",
  check: "slot-wal-keep-size",
  object: { kind: "setting", name: "max_slot_wal_keep_size" },
  problem: "is -1 (unlimited)",
  fix: "set a limit",
};
const error: Finding = {
  area: "tables",
  severity: "error",
  check: "table-without-key",
  object: { kind: "table", name: "public.events" },
  problem: "has no primary key",
  fix: 'ALTER TABLE "public"."events" ADD PRIMARY KEY (…);',
  code: "TABLE_WITHOUT_KEY",
};
const secondWarning: Finding = { ...warning, area: "tables", check: "replica-identity-full", object: { kind: "table", name: "public.fulls" }, problem: "has REPLICA IDENTITY FULL" };
const report = (findings: Finding[], created: CheckReport["created"] = []): CheckReport => ({ source: "u@s:5432/src", target: "u@t:5432/tgt", tables: 3, targetTables: 1, findings, created });

describe("zeroloss check: exit code and summary", () => {
  it("exits 1 on any error, 0 on warnings alone or nothing", () => {
    expect(checkExitCode([])).toBe(0);
    expect(checkExitCode([warning, secondWarning])).toBe(0);
    expect(checkExitCode([warning, error])).toBe(1);
  });

  it("counts errors and warnings", () => {
    expect(summarize(report([warning, error, secondWarning]))).toEqual({ errors: 1, warnings: 2, ready: false, exitCode: 1, tables: 3, targetTables: 1, created: 0 });
    expect(summarize(report([warning]))).toMatchObject({ errors: 0, warnings: 1, ready: true, exitCode: 0 });
  });
});

describe("zeroloss check: the readable report", () => {
  const text = formatReport(report([secondWarning, warning, error]));

  it("has every area, in order, with 'ok' where nothing was found", () => {
    const titles = ["Source settings", "Tables and keys", "Types in the target", "Target tables", "Foreign keys and triggers in the target", "Sequences", "Privileges"];
    expect(titles).toHaveLength(AREAS.length);
    const at = titles.map((t) => text.indexOf(`\n${t}\n`));
    expect(at.every((i) => i > 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(text).toContain("Types in the target\n  ok\n");
  });

  it("lists errors before warnings within an area: object, code, problem, then the fix", () => {
    const tables = text.slice(text.indexOf("Tables and keys"), text.indexOf("Types in the target"));
    expect(tables).toBe(
      "Tables and keys\n" +
        "  error    table public.events [TABLE_WITHOUT_KEY]: has no primary key\n" +
        '           fix: ALTER TABLE "public"."events" ADD PRIMARY KEY (…);\n' +
        "  warning  table public.fulls: has REPLICA IDENTITY FULL\n" +
        "           fix: set a limit\n\n",
    );
  });

  it("starts with both sides and the tables, ends with the verdict and its exit code", () => {
    expect(text.split("\n").slice(0, 2)).toEqual(["zeroloss check: source u@s:5432/src, target u@t:5432/tgt", "3 tables chosen by source.tables; 1 of them in the target already (the consumer creates the others)"]);
    expect(text.trimEnd().split("\n").at(-1)).toBe("1 error, 2 warnings: problems found (exit 1)");
    expect(formatReport(report([])).trimEnd().split("\n").at(-1)).toBe("no errors, no warnings: ready (exit 0)");
  });

  it("lists what --fix created", () => {
    const made = formatReport(report([], [{ type: "public.mood", kind: "enum", sql: `CREATE TYPE "public"."mood" AS ENUM ('a');` }]));
    expect(made).toContain(`Created by --fix in the target (one transaction):\n  enum public.mood: CREATE TYPE "public"."mood" AS ENUM ('a');\n`);
  });
});

describe("zeroloss check --json", () => {
  it("is one object: both sides, the findings as they are, what was created, and the summary", () => {
    const out = reportJson(report([warning, error]));
    expect(out.endsWith("}\n")).toBe(true);
    expect(out.trimEnd()).not.toContain("\n");
    expect(JSON.parse(out)).toEqual({
      source: "u@s:5432/src",
      target: "u@t:5432/tgt",
      findings: [warning, error],
      created: [],
      summary: { errors: 1, warnings: 1, ready: false, exitCode: 1, tables: 3, targetTables: 1, created: 0 },
    });
  });
});
