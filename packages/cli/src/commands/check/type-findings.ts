// Area 3, the types the target lacks: every column of a chosen table whose type the target
// does not resolve as the source names it (the consumer's own test, resolveTypeNames), traced
// to the type at fault (an array's element; a domain's base and a composite's attributes
// too, as they must exist first), all at once. Enums, domains and composites can be created
// from the source's catalog (type-fix.ts); an extension's types need CREATE EXTENSION, which
// is named here and left to the operator.
import {
  pgBool,
  planTypeCreation,
  qualifiedName,
  query,
  quoteIdent,
  readUserTypes,
  resolveTypeNames,
  type Client,
  type TableInfo,
  type TypeCreationPlan,
  type TypeReference,
  type UserType,
} from "@zeroloss/pg";
import type { Finding } from "./finding.js";
import { isPermissionDenied } from "./privilege-findings.js";

export interface TypeCheck {
  readonly findings: Finding[];
  /** The target's rendering of a source column's type, or null when the target lacks it (or resolves it to another type). */
  targetType(table: TableInfo, column: string): string | null;
  /** What --fix would create, in order, and what it cannot. */
  readonly plan: TypeCreationPlan;
  /** Schemas the target role may not use, with the types it could not look up there. */
  readonly deniedSchemas: ReadonlyMap<string, readonly string[]>;
}

const typeKey = (type: string, typmod: number) => `${type}\u0000${typmod}`;

export function typeName(t: UserType): string {
  return `${t.schema}.${t.name}`;
}

export function kindName(t: UserType): string {
  return t.kind === "row" ? "row type" : t.kind;
}

export function listed(items: readonly string[], max = 8): string {
  return items.length <= max ? items.join(", ") : `${items.slice(0, max).join(", ")} and ${items.length - max} more`;
}

interface ExtensionOnTarget {
  readonly installedVersion: string | null;
  readonly installedSchema: string | null;
  readonly trusted: boolean;
}

async function extensionsOnTarget(target: Client, names: readonly string[]): Promise<Map<string, ExtensionOnTarget>> {
  if (names.length === 0) return new Map();
  const rows = await query<{ name: string; installed: string | null; schema: string | null; trusted: string | boolean | null }>(
    target,
    "reading the target's extensions",
    `SELECT a.name, e.extversion AS installed, n.nspname AS schema,
            (SELECT bool_or(v.trusted) FROM pg_available_extension_versions v WHERE v.name = a.name) AS trusted
       FROM pg_available_extensions a LEFT JOIN pg_extension e ON e.extname = a.name LEFT JOIN pg_namespace n ON n.oid = e.extnamespace
      WHERE a.name = ANY($1::text[])`,
    [names],
  );
  return new Map(rows.map((r) => [r.name, { installedVersion: r.installed, installedSchema: r.schema, trusted: pgBool(r.trusted) }]));
}

/**
 * resolveTypeNames, but a name in a schema the target role may not use (to_regtype then
 * fails, "permission denied for schema") is marked denied instead of failing the whole
 * check: the consumer would fail on it the same way, and a GRANT fixes it.
 */
async function resolveEach(target: Client, refs: readonly TypeReference[], what: string): Promise<{ resolved: (string | null)[]; denied: Set<number> }> {
  const denied = new Set<number>();
  try {
    return { resolved: await resolveTypeNames(target, refs, what), denied };
  } catch (err) {
    if (!isPermissionDenied(err)) throw err;
  }
  const resolved: (string | null)[] = [];
  for (const [i, r] of refs.entries()) {
    try {
      resolved.push((await resolveTypeNames(target, [r], what))[0] ?? null);
    } catch (err) {
      if (!isPermissionDenied(err)) throw err;
      denied.add(i);
      resolved.push(null);
    }
  }
  return { resolved, denied };
}

/** Reads both sides and builds the findings; changes nothing. */
export async function checkTypes(source: Client, target: Client, infos: readonly TableInfo[]): Promise<TypeCheck> {
  const refs = new Map<string, { type: string; typmod: number; typeOid: number }>();
  for (const info of infos) for (const c of info.columns) refs.set(typeKey(c.sqlType, c.typeMod), { type: c.sqlType, typmod: c.typeMod, typeOid: c.typeOid });
  const list = [...refs.values()];
  const columnTypes = await resolveEach(target, list, "resolving the source's column types in the target");
  const resolvedBy = new Map(list.map((r, i) => [typeKey(r.type, r.typmod), columnTypes.resolved[i] ?? null]));
  const deniedRefs = new Set([...columnTypes.denied].map((i) => typeKey(list[i]?.type ?? "", list[i]?.typmod ?? 0)));
  const targetType = (table: TableInfo, column: string): string | null => {
    const c = table.columns.find((x) => x.name === column);
    if (c === undefined) return null;
    const r = resolvedBy.get(typeKey(c.sqlType, c.typeMod)) ?? null;
    return r === c.sqlType ? r : null;
  };
  const wrong = infos.flatMap((info) =>
    info.columns
      .filter((c) => targetType(info, c.name) === null)
      .map((c) => ({ info, c, resolved: resolvedBy.get(typeKey(c.sqlType, c.typeMod)) ?? null, denied: deniedRefs.has(typeKey(c.sqlType, c.typeMod)) })),
  );
  if (wrong.length === 0) return { findings: [], targetType, plan: { create: [], blocked: [] }, deniedSchemas: new Map() };

  const catalog = await readUserTypes(source, [...new Set(wrong.map((w) => w.c.typeOid))]);
  // Every type reached (the columns' and what they are built from): which ones the target has.
  const all = [...catalog.types.values()];
  const present = await resolveEach(target, all.map((t) => ({ type: t.display, typmod: -1 })), "looking up the source's types in the target");
  // A type the role may not look up is a privilege finding (below), not a missing type.
  const denied = all.filter((_, i) => present.denied.has(i));
  const missing = new Set(all.filter((t, i) => !present.denied.has(i) && present.resolved[i] !== t.display).map((t) => t.oid));
  const plan = planTypeCreation(catalog, missing);
  const findings: Finding[] = [];

  // The columns each missing type stands behind, and the missing types built from it.
  const usedBy = new Map<number, string[]>();
  const neededBy = new Map<number, string[]>();
  for (const w of wrong) {
    const root = catalog.root(w.c.typeOid);
    if (!catalog.types.has(root)) continue;
    usedBy.set(root, [...(usedBy.get(root) ?? []), `${qualifiedName(w.info)}.${w.c.name}`]);
  }
  for (const t of all) {
    if (!missing.has(t.oid)) continue;
    for (const d of t.dependsOn) {
      const r = catalog.root(d);
      if (missing.has(r)) neededBy.set(r, [...new Set([...(neededBy.get(r) ?? []), typeName(t)])]);
    }
  }
  const usage = (oid: number) => {
    const parts = [
      ...((usedBy.get(oid) ?? []).length > 0 ? [`used by column${(usedBy.get(oid) ?? []).length === 1 ? "" : "s"} ${listed(usedBy.get(oid) ?? [])}`] : []),
      ...((neededBy.get(oid) ?? []).length > 0 ? [`needed by type ${listed(neededBy.get(oid) ?? [])}`] : []),
    ];
    return parts.join("; ");
  };

  // Extension types: one finding per extension.
  const byExtension = new Map<string, UserType[]>();
  for (const t of all) if (missing.has(t.oid) && t.extension !== null) byExtension.set(t.extension.name, [...(byExtension.get(t.extension.name) ?? []), t]);
  const onTarget = await extensionsOnTarget(target, [...byExtension.keys()]);
  for (const [ext, types] of [...byExtension.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const first = types[0] as UserType;
    const e = first.extension as NonNullable<UserType["extension"]>;
    const there = onTarget.get(ext);
    const create = `CREATE EXTENSION IF NOT EXISTS ${quoteIdent(ext)} WITH SCHEMA ${quoteIdent(e.schema)};`;
    const state =
      there === undefined
        ? "which the target's server does not have installed (not in pg_available_extensions)"
        : there.installedVersion !== null
          ? `which the target has (version ${there.installedVersion}) in schema ${there.installedSchema ?? "?"}, where the consumer does not find its types as the source names them`
          : "which the target's server offers but the target database has not created";
    findings.push({
      area: "types",
      severity: "error",
      check: "extension-missing",
      object: { kind: "extension", name: ext },
      problem: `type${types.length === 1 ? "" : "s"} ${types.map((t) => `${typeName(t)} (${usage(t.oid)})`).join(", ")} come${types.length === 1 ? "s" : ""} from extension ${ext} (version ${e.version} in schema ${e.schema} on the source), ${state}`,
      fix:
        (there === undefined ? `install the extension's package on the target's server (for ${ext}: postgresql-contrib, as a rule), then ` : "") +
        (there !== undefined && there.installedVersion !== null
          ? `move it to the source's schema: ALTER EXTENSION ${quoteIdent(ext)} SET SCHEMA ${quoteIdent(e.schema)}; `
          : `in the target, as a superuser${there?.trusted === true ? " or a role with CREATE on the database (it is a trusted extension)" : ""}: ${create} `) +
        `(zeroloss check --fix does not install extensions)`,
      code: "TARGET_TYPE_UNKNOWN",
    });
  }

  // Other missing types: one finding each, with the statement --fix runs, or why it cannot.
  const creates = new Map(plan.create.map((c) => [c.type.oid, c.sql]));
  const blockers = new Map(plan.blocked.map((b) => [b.type.oid, b.by]));
  for (const t of all.filter((x) => missing.has(x.oid) && x.extension === null).sort((a, b) => typeName(a).localeCompare(typeName(b)))) {
    const sql = creates.get(t.oid);
    const by = blockers.get(t.oid) ?? [];
    const byOthers = by.filter((b) => b.oid !== t.oid);
    let fix: string;
    if (sql !== undefined) fix = `zeroloss check --fix creates it from the source's catalog: ${sql};`;
    else if (byOthers.length > 0) {
      const exts = [...new Set(byOthers.flatMap((b) => (b.extension === null ? [] : [b.extension.name])))];
      fix =
        `it is built from ${listed(byOthers.map(typeName))}, which ${byOthers.length === 1 ? "has" : "have"} to exist first` +
        (exts.length > 0 ? ` (CREATE EXTENSION ${exts.join(", ")})` : "") +
        "; then zeroloss check --fix creates it";
    } else if (t.kind === "row") fix = `its values are rows of a table of the same name: create that table ${typeName(t)} in the target first (its row type comes with it)`;
    else fix = `create it in the target by hand as on the source (zeroloss check --fix creates enums, domains and composite types only, not ${kindName(t)} types)`;
    findings.push({
      area: "types",
      severity: "error",
      check: "type-missing",
      object: { kind: "type", name: typeName(t) },
      problem: `${kindName(t)} ${typeName(t)} does not exist in the target (${usage(t.oid)}); the consumer would stop the table's partitions`,
      fix,
      code: "TARGET_TYPE_UNKNOWN",
    });
  }

  // Columns whose type is not traced to a source type of its own: a built-in type the target's
  // PostgreSQL lacks, or a name the target resolves to another type.
  const untraced = wrong.filter((w) => !w.denied && !catalog.types.has(catalog.root(w.c.typeOid)));
  const byType = new Map<string, typeof untraced>();
  for (const w of untraced) byType.set(w.c.sqlType, [...(byType.get(w.c.sqlType) ?? []), w]);
  for (const [type, ws] of byType) {
    const first = ws[0] as (typeof ws)[number];
    const columns = listed(ws.map((w) => `${qualifiedName(w.info)}.${w.c.name}`));
    findings.push(
      first.resolved === null
        ? {
            area: "types",
            severity: "error",
            check: "type-missing",
            object: { kind: "type", name: type },
            problem: `built-in type ${type} of the source does not exist in the target (columns ${columns}): the target's PostgreSQL is older than the source's`,
            fix: "run the target on the source's PostgreSQL major version (or a newer one)",
            code: "TARGET_TYPE_UNKNOWN",
          }
        : {
            area: "types",
            severity: "error",
            check: "type-resolves-elsewhere",
            object: { kind: "type", name: type },
            problem: `the target resolves ${type} (columns ${columns}) to ${first.resolved}, another type, so the consumer would stop the table's partitions`,
            fix: `create ${type} in the target where the consumer's search_path finds it first, or rename the type that stands in its way`,
            code: "TARGET_TYPE_UNKNOWN",
          },
    );
  }
  // Per schema the role may not use, what was to be looked up there.
  const deniedSchemas = new Map<string, string[]>();
  for (const t of denied) deniedSchemas.set(t.schema, [...(deniedSchemas.get(t.schema) ?? []), `${kindName(t)} ${typeName(t)}`]);
  return { findings, targetType, plan, deniedSchemas };
}
