// Area 7, the roles the services run as (the source URL's: the producer's; the target URL's:
// the consumer's), through the same checks the services run at start, plus what the consumer
// learns only later: CREATE on the schemas of the tables it will create, and ownership of
// existing tables it would alter.
import { ZerolossError } from "@zeroloss/errors";
import { quoteIdent, type MissingPrivilege } from "@zeroloss/pg";
import type { Finding } from "./finding.js";

export interface RoleGaps {
  /** "producer" or "consumer". */
  readonly service: string;
  /** "source" or "target". */
  readonly side: string;
  readonly role: string;
  readonly missing: readonly MissingPrivilege[];
}

/**
 * One error per GRANT: privileges the same statement gives (GRANT <owner> TO <role> for the
 * ownership of several tables, CREATE on the database asked for twice) are one finding
 * naming each.
 */
export function privilegeFindings(gaps: readonly RoleGaps[]): Finding[] {
  const byGrant = new Map<string, { gap: RoleGaps; privilege: string; on: string[] }>();
  for (const g of gaps) {
    for (const m of g.missing) {
      const key = `${g.side}\u0000${m.grant}`;
      const seen = byGrant.get(key);
      if (seen === undefined) byGrant.set(key, { gap: g, privilege: m.privilege, on: [m.on] });
      else if (!seen.on.includes(m.on)) seen.on.push(m.on);
    }
  }
  return [...byGrant.entries()].map(([key, { gap, privilege, on }]) => ({
    area: "privileges",
    severity: "error",
    check: "privilege-missing",
    object: { kind: "role", name: gap.role },
    problem: `the ${gap.service}'s role on the ${gap.side} lacks ${privilege} on ${on.join("; ")}`,
    fix: key.slice(key.indexOf("\u0000") + 1),
    code: "PG_PRIVILEGE_MISSING",
  }));
}

/**
 * Schemas of the target the consumer's role may not use (USAGE), found when a type or table
 * could not even be looked up there (to_regtype, to_regclass: "permission denied for
 * schema"): the consumer would fail on the same lookup. `objects` says what was looked up.
 */
export function schemaUsageFindings(role: string, denied: ReadonlyMap<string, readonly string[]>, alreadyReported: readonly MissingPrivilege[]): Finding[] {
  return [...denied.entries()]
    .filter(([schema]) => !alreadyReported.some((m) => m.on.startsWith(`schema ${schema} `) && m.privilege.includes("USAGE")))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([schema, objects]) => ({
      area: "privileges",
      severity: "error",
      check: "privilege-missing",
      object: { kind: "role", name: role },
      problem:
        `the consumer's role on the target lacks USAGE on schema ${schema}, where ${objects.join(", ")} ${objects.length === 1 ? "is" : "are"} looked up: ` +
        "the consumer would fail there (PG_QUERY_FAILED), and the check cannot see what the target has in it",
      fix: `GRANT USAGE ON SCHEMA ${quoteIdent(schema)} TO ${quoteIdent(role)};`,
      code: "PG_PRIVILEGE_MISSING",
    }));
}

/** "permission denied for schema …" (SQLSTATE 42501): how a name lookup in a schema without USAGE fails. */
export function isPermissionDenied(err: unknown): boolean {
  return err instanceof ZerolossError && err.details["sqlstate"] === "42501";
}
