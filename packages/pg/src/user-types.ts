// The source's own types (enums, domains, composites, and the types extensions bring) as its
// catalog defines them. A column of such a type needs the same type in the target before the
// consumer can create or fill its table; `zeroloss check` reads them to name every one the
// target lacks, with the extension to install, and with --fix creates the ones plain SQL can
// create (type-ddl.ts), dependencies first.
import type pg from "pg";
import { pgBool } from "./booleans.js";
import { query } from "./connect.js";

/**
 * enum, domain, composite (CREATE TYPE … AS (…)); row: a table's row type; range and
 * multirange; base: a type written in C (an extension's, as a rule); pseudo.
 */
export type UserTypeKind = "enum" | "domain" | "composite" | "row" | "range" | "multirange" | "base" | "pseudo";

export interface TypeExtension {
  readonly name: string;
  /** The schema the extension was installed into. */
  readonly schema: string;
  readonly version: string;
}

export interface DomainDefinition {
  /** format_type() of the base type with the domain's typmod: `integer`, `numeric(12,2)`, `mood`. */
  readonly baseType: string;
  readonly notNull: boolean;
  /** The default expression as the catalog keeps it, or null. */
  readonly default: string | null;
  /** A collation other than the base type's, quoted, or null. */
  readonly collation: string | null;
  /** CHECK constraints in name order: the name and pg_get_constraintdef() (`CHECK ((VALUE > 0))`). */
  readonly checks: readonly { readonly name: string; readonly definition: string }[];
}

export interface CompositeAttribute {
  readonly name: string;
  /** format_type() with the attribute's typmod. */
  readonly type: string;
  /** A collation other than the attribute type's, quoted, or null. */
  readonly collation: string | null;
}

export interface UserType {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  /** format_type(oid, NULL) on this connection: how columns and other types name it. */
  readonly display: string;
  readonly kind: UserTypeKind;
  /** The extension that created it, or null. */
  readonly extension: TypeExtension | null;
  /** An enum's labels, in their sort order; empty for other kinds. */
  readonly enumLabels: readonly string[];
  /** A domain's definition; null for other kinds. */
  readonly domain: DomainDefinition | null;
  /** A composite's (or row type's) attributes in order; empty for other kinds. */
  readonly attributes: readonly CompositeAttribute[];
  /** Oids of the types it is built from (a domain's base type, the attributes' types), arrays not yet seen through. */
  readonly dependsOn: readonly number[];
}

export interface UserTypeCatalog {
  /** Every type outside pg_catalog and information_schema reached from the oids asked for (arrays seen through), by oid. */
  readonly types: ReadonlyMap<number, UserType>;
  /** The type an oid stands for once arrays are seen through (`mood[]` → mood); any other oid, itself. */
  root(oid: number): number;
}

const KINDS: Readonly<Record<string, UserTypeKind>> = { e: "enum", d: "domain", c: "composite", r: "range", m: "multirange", b: "base", p: "pseudo" };

interface TypeRow {
  oid: string;
  schema: string;
  name: string;
  display: string;
  typtype: string;
  is_array: string | boolean;
  elem: string;
  base: string;
  basetype: string | null;
  notnull: string | boolean;
  def: string | null;
  collation: string | null;
  relkind: string | null;
  extname: string | null;
  extschema: string | null;
  extversion: string | null;
}

/**
 * The types `oids` name and, transitively, every type they are built from, as far as it is not
 * built in (pg_catalog, information_schema): a target of the same PostgreSQL major has those.
 */
export async function readUserTypes(client: pg.Client, oids: readonly number[]): Promise<UserTypeCatalog> {
  const types = new Map<number, UserType>();
  const elementOf = new Map<number, number>();
  const seen = new Set<number>();
  let pending = [...new Set(oids)];
  while (pending.length > 0) {
    for (const o of pending) seen.add(o);
    const rows = await query<TypeRow>(
      client,
      "reading the source's types",
      `SELECT t.oid::int8::text AS oid, n.nspname AS schema, t.typname AS name, format_type(t.oid, NULL) AS display, t.typtype,
              (t.typtype = 'b' AND t.typcategory = 'A' AND t.typelem <> 0) AS is_array, t.typelem::int8::text AS elem,
              t.typbasetype::int8::text AS base, CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS basetype,
              t.typnotnull AS notnull, t.typdefault AS def,
              CASE WHEN t.typtype = 'd' AND t.typcollation <> 0 AND t.typcollation IS DISTINCT FROM b.typcollation
                   THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation,
              r.relkind::text AS relkind, e.extname, en.nspname AS extschema, e.extversion
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         LEFT JOIN pg_type b ON b.oid = t.typbasetype
         LEFT JOIN pg_collation co ON co.oid = t.typcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
         LEFT JOIN pg_class r ON r.oid = t.typrelid
         LEFT JOIN pg_depend d ON d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
         LEFT JOIN pg_extension e ON e.oid = d.refobjid LEFT JOIN pg_namespace en ON en.oid = e.extnamespace
        WHERE t.oid = ANY($1::oid[]) AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
      [pending],
    );
    const arrays = rows.filter((r) => pgBool(r.is_array));
    for (const a of arrays) elementOf.set(Number(a.oid), Number(a.elem));
    const defined = rows.filter((r) => !pgBool(r.is_array));
    const ids = defined.map((r) => Number(r.oid));
    const labels = await query<{ type: string; label: string }>(
      client,
      "reading the source's enum labels",
      "SELECT enumtypid::int8::text AS type, enumlabel AS label FROM pg_enum WHERE enumtypid = ANY($1::oid[]) ORDER BY enumtypid, enumsortorder",
      [ids],
    );
    const checks = await query<{ type: string; name: string; def: string }>(
      client,
      "reading the source's domain constraints",
      "SELECT contypid::int8::text AS type, conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE contypid = ANY($1::oid[]) AND contype = 'c' ORDER BY contypid, conname",
      [ids],
    );
    const attributes = await query<{ type: string; name: string; atype: string; atypid: string; collation: string | null }>(
      client,
      "reading the source's composite types",
      `SELECT t.oid::int8::text AS type, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS atype, a.atttypid::int8::text AS atypid,
              CASE WHEN a.attcollation <> 0 AND a.attcollation <> at.typcollation THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation
         FROM pg_type t JOIN pg_attribute a ON a.attrelid = t.typrelid JOIN pg_type at ON at.oid = a.atttypid
         LEFT JOIN pg_collation co ON co.oid = a.attcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
        WHERE t.oid = ANY($1::oid[]) AND t.typrelid <> 0 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY t.oid, a.attnum`,
      [ids],
    );
    const next: number[] = arrays.map((a) => Number(a.elem));
    for (const r of defined) {
      const oid = Number(r.oid);
      const kind: UserTypeKind = r.typtype === "c" ? (r.relkind === "c" ? "composite" : "row") : (KINDS[r.typtype] ?? "base");
      const attrs = attributes.filter((a) => Number(a.type) === oid);
      const dependsOn = kind === "domain" ? [Number(r.base)] : attrs.map((a) => Number(a.atypid));
      next.push(...dependsOn);
      types.set(oid, {
        oid,
        schema: r.schema,
        name: r.name,
        display: r.display,
        kind,
        extension: r.extname === null ? null : { name: r.extname, schema: r.extschema ?? "", version: r.extversion ?? "" },
        enumLabels: labels.filter((l) => Number(l.type) === oid).map((l) => l.label),
        domain:
          kind === "domain"
            ? {
                baseType: r.basetype ?? "",
                notNull: pgBool(r.notnull),
                default: r.def,
                collation: r.collation,
                checks: checks.filter((c) => Number(c.type) === oid).map((c) => ({ name: c.name, definition: c.def })),
              }
            : null,
        attributes: attrs.map((a) => ({ name: a.name, type: a.atype, collation: a.collation })),
        dependsOn,
      });
    }
    pending = [...new Set(next)].filter((o) => !seen.has(o));
  }
  const root = (oid: number): number => {
    let o = oid;
    for (let hops = 0; hops < 8; hops++) {
      const e = elementOf.get(o);
      if (e === undefined) return o;
      o = e;
    }
    return o;
  };
  return { types, root };
}
