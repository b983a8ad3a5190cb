import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, isErrorCode, type ErrorCode } from "./codes.js";
import { ZerolossError } from "./error.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const CATALOG = join(ROOT, "packages/errors/src/codes.ts");

/** The row docs/errors.md has for a code. */
function docRow(code: ErrorCode): string {
  const c = ERROR_CODES[code];
  return `| \`${code}\` | ${c.retriable ? "yes" : "no"} | ${c.meaning} |`;
}

/** Every non-test TypeScript file under packages/<name>/src and services/<name>/src but the catalog. */
function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") && !e.name.endsWith(".d.ts") && path !== CATALOG) files.push(path);
    }
  };
  for (const top of ["packages", "services"]) {
    for (const d of readdirSync(join(ROOT, top), { withFileTypes: true })) {
      if (d.isDirectory()) walk(join(ROOT, top, d.name, "src"));
    }
  }
  return files;
}

describe("the error catalog", () => {
  it("is documented: docs/errors.md has each code's row, retriable and meaning as the catalog says, in its order, and no other", () => {
    const doc = readFileSync(join(ROOT, "docs/errors.md"), "utf8");
    const rows = doc.split("\n").filter((line) => line.startsWith("| `"));
    expect(rows).toEqual((Object.keys(ERROR_CODES) as ErrorCode[]).map(docRow));
  });

  it("holds no dead codes: each is written as a string literal somewhere in packages/*/src or services/*/src", () => {
    const sources = sourceFiles().map((f) => readFileSync(f, "utf8"));
    const raised = (code: string) => sources.some((s) => s.includes(`"${code}"`) || s.includes(`'${code}'`) || s.includes(`\`${code}\``));
    expect(Object.keys(ERROR_CODES).filter((code) => !raised(code))).toEqual([]);
  });

  it("gives each code one sentence that fits a table row", () => {
    for (const [code, c] of Object.entries(ERROR_CODES)) {
      expect(c.meaning, code).toMatch(/^\S.*\.$/);
      expect(c.meaning, code).not.toMatch(/[|\n]/);
    }
  });

  it("decides retriable for every error of a code: the catalog's verdict", () => {
    expect(new ZerolossError("PG_UNREACHABLE", "x").retriable).toBe(true);
    expect(new ZerolossError("PG_QUERY_FAILED", "x").retriable).toBe(false);
    expect(isErrorCode("PG_UNREACHABLE")).toBe(true);
    expect(isErrorCode("toString")).toBe(false); // an Object.prototype member is no code
  });
});
