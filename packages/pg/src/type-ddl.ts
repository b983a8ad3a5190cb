// The statements that create a source type in the target, from what the source's catalog
// says (user-types.ts), and the order to run them in: a type after the types it is built
// from (a domain over an enum, a composite holding a domain). Only enums, domains and
// composites: a base type is C code (an extension's, to be installed with CREATE EXTENSION),
// a range may name functions, and a row type comes with its table.
import { quoteIdent, quoteLiteral } from "@zeroloss/checksum";
import type { UserType, UserTypeCatalog } from "./user-types.js";

/** `"schema"."name"`. */
export function quoteTypeName(t: Pick<UserType, "schema" | "name">): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
}

/** CREATE TYPE / CREATE DOMAIN for an enum, domain or composite that no extension owns; null for anything else. */
export function createTypeStatement(t: UserType): string | null {
  if (t.extension !== null) return null;
  const name = quoteTypeName(t);
  switch (t.kind) {
    case "enum":
      return `CREATE TYPE ${name} AS ENUM (${t.enumLabels.map(quoteLiteral).join(", ")})`;
    case "composite":
      return `CREATE TYPE ${name} AS (${t.attributes.map((a) => `${quoteIdent(a.name)} ${a.type}${a.collation === null ? "" : ` COLLATE ${a.collation}`}`).join(", ")})`;
    case "domain": {
      const d = t.domain;
      if (d === null) return null;
      return (
        `CREATE DOMAIN ${name} AS ${d.baseType}` +
        (d.collation === null ? "" : ` COLLATE ${d.collation}`) +
        (d.default === null ? "" : ` DEFAULT ${d.default}`) +
        (d.notNull ? " NOT NULL" : "") +
        d.checks.map((c) => ` CONSTRAINT ${quoteIdent(c.name)} ${c.definition}`).join("")
      );
    }
    default:
      return null;
  }
}

export interface TypeCreationPlan {
  /** The types to create, each after the types it is built from, with the statement. */
  readonly create: readonly { readonly type: UserType; readonly sql: string }[];
  /** Missing types that cannot be created by a statement, or need one of those first: each with what stands in the way. */
  readonly blocked: readonly { readonly type: UserType; readonly by: readonly UserType[] }[];
}

/**
 * Orders the creation of the `missing` types (oids of the catalog the target lacks). A type
 * whose own statement is unknown (an extension's, a base type, a range) is blocked by itself;
 * one built from a blocked type is blocked by that type. Types outside the catalog (built in)
 * are taken to be present.
 */
export function planTypeCreation(catalog: UserTypeCatalog, missing: ReadonlySet<number>): TypeCreationPlan {
  const create: { type: UserType; sql: string }[] = [];
  const blockedBy = new Map<number, UserType[]>();
  const done = new Set<number>();
  const visiting = new Set<number>();
  const visit = (oid: number): UserType[] => {
    if (done.has(oid)) return blockedBy.get(oid) ?? [];
    const t = catalog.types.get(oid);
    if (t === undefined || !missing.has(oid)) return [];
    if (visiting.has(oid)) return []; // a cycle cannot be built by CREATE TYPE anyway; the statement will say so
    visiting.add(oid);
    const sql = createTypeStatement(t);
    const blockers = sql === null ? [t] : [...new Map(t.dependsOn.flatMap((d) => visit(catalog.root(d))).map((b) => [b.oid, b])).values()];
    visiting.delete(oid);
    done.add(oid);
    if (blockers.length > 0) blockedBy.set(oid, blockers);
    else if (sql !== null) create.push({ type: t, sql });
    return blockers;
  };
  for (const oid of [...missing].sort((a, b) => a - b)) visit(oid);
  const blocked = [...blockedBy.entries()].flatMap(([oid, by]) => {
    const type = catalog.types.get(oid);
    return type === undefined ? [] : [{ type, by }];
  });
  return { create, blocked };
}
