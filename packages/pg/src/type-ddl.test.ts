import { describe, expect, it } from "vitest";
import { createTypeStatement, planTypeCreation } from "./type-ddl.js";
import type { UserType, UserTypeCatalog } from "./user-types.js";

const base = { schema: "public", extension: null, enumLabels: [], domain: null, attributes: [], dependsOn: [] } as const;
const mood: UserType = { ...base, oid: 10, name: "mood", display: "mood", kind: "enum", enumLabels: ["sad", "it's", "a\\b"] };
const posint: UserType = {
  ...base,
  oid: 11,
  name: "posint",
  display: "posint",
  kind: "domain",
  domain: { baseType: "integer", notNull: true, default: "1", collation: null, checks: [{ name: "positive", definition: "CHECK ((VALUE > 0))" }] },
  dependsOn: [23],
};
const pair: UserType = {
  ...base,
  oid: 12,
  name: "pair",
  display: "pair",
  kind: "composite",
  attributes: [
    { name: "a", type: "posint", collation: null },
    { name: "Label", type: "text", collation: 'pg_catalog."C"' },
    { name: "m", type: "mood[]", collation: null },
  ],
  dependsOn: [11, 25, 1010],
};
const citext: UserType = { ...base, oid: 20, name: "citext", display: "citext", kind: "base", extension: { name: "citext", schema: "public", version: "1.6" } };
const email: UserType = { ...base, oid: 21, name: "email", display: "email", kind: "domain", domain: { baseType: "citext", notNull: false, default: null, collation: null, checks: [] }, dependsOn: [20] };
const range: UserType = { ...base, oid: 30, name: "span", display: "span", kind: "range" };

/** 1010 is mood[]: seen through to mood. */
const catalog = (types: UserType[]): UserTypeCatalog => ({ types: new Map(types.map((t) => [t.oid, t])), root: (o) => (o === 1010 ? 10 : o) });

describe("creating the source's types in the target", () => {
  it("writes each kind from the catalog's facts, names and labels quoted", () => {
    expect(createTypeStatement(mood)).toBe(`CREATE TYPE "public"."mood" AS ENUM ('sad', 'it''s', E'a\\\\b')`);
    expect(createTypeStatement(posint)).toBe(`CREATE DOMAIN "public"."posint" AS integer DEFAULT 1 NOT NULL CONSTRAINT "positive" CHECK ((VALUE > 0))`);
    expect(createTypeStatement(pair)).toBe(`CREATE TYPE "public"."pair" AS ("a" posint, "Label" text COLLATE pg_catalog."C", "m" mood[])`);
    expect(createTypeStatement(citext)).toBeNull();
    expect(createTypeStatement(range)).toBeNull();
  });

  it("creates what a type is built from first: the enum and the domain before the composite holding them", () => {
    const plan = planTypeCreation(catalog([pair, posint, mood]), new Set([12, 11, 10]));
    expect(plan.create.map((c) => c.type.name)).toEqual(["mood", "posint", "pair"]);
    expect(plan.blocked).toEqual([]);
  });

  it("creates only what is missing, and takes built-in types and present ones as there", () => {
    const plan = planTypeCreation(catalog([pair, posint, mood]), new Set([12]));
    expect(plan.create.map((c) => c.type.name)).toEqual(["pair"]);
  });

  it("an extension's type, a range, and what is built from them: blocked, each with what stands in the way", () => {
    const plan = planTypeCreation(catalog([citext, email, range, mood]), new Set([20, 21, 30, 10]));
    expect(plan.create.map((c) => c.type.name)).toEqual(["mood"]);
    expect(plan.blocked.map((b) => [b.type.name, b.by.map((x) => x.name)])).toEqual([
      ["citext", ["citext"]],
      ["email", ["citext"]],
      ["span", ["span"]],
    ]);
  });
});
