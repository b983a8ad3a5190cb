// Include and exclude patterns: `schema.table` with `*` as a wildcard in either part.
import { describe, expect, it } from "vitest";
import { matchesPattern, quoteTable } from "./catalog.js";

describe("matchesPattern", () => {
  const t = (schema: string, name: string) => ({ schema, name });

  it("matches whole names, with * as a wildcard in schema or table", () => {
    expect(matchesPattern(t("public", "orders"), "public.*")).toBe(true);
    expect(matchesPattern(t("billing", "payments"), "billing.payments")).toBe(true);
    expect(matchesPattern(t("billing", "payments_2026"), "billing.payments")).toBe(false);
    expect(matchesPattern(t("billing", "payments_2026"), "billing.payments_*")).toBe(true);
    expect(matchesPattern(t("audit", "log"), "*.log")).toBe(true);
    expect(matchesPattern(t("public", "orders"), "billing.*")).toBe(false);
  });

  it("treats regex characters in names literally and keeps case", () => {
    expect(matchesPattern(t("public", "a+b"), "public.a+b")).toBe(true);
    expect(matchesPattern(t("public", "aab"), "public.a+b")).toBe(false);
    expect(matchesPattern(t("public", "Mixed Case"), "public.Mixed Case")).toBe(true);
    expect(matchesPattern(t("public", "mixed case"), "public.Mixed Case")).toBe(false);
  });

  it("quotes identifiers, doubling embedded quotes", () => {
    expect(quoteTable(t("public", 'we"ird'))).toBe('"public"."we""ird"');
  });
});
