// Area 7, the roles the services run as (the source URL's: the producer's; the target URL's:
// the consumer's), through the same checks the services run at start, plus what the consumer
// learns only later: CREATE on the schemas of the tables it will create, and ownership of
// existing tables it would alter.
import type { MissingPrivilege } from "@zeroloss/pg";
import type { Finding } from "./finding.js";

export interface RoleGaps {
  /** "producer" or "consumer". */
  readonly service: string;
  /** "source" or "target". */
  readonly side: string;
  readonly role: string;
  readonly missing: readonly MissingPrivilege[];
}

/** One error per missing privilege, each with its GRANT; the same grant named twice is listed once. */
export function privilegeFindings(gaps: readonly RoleGaps[]): Finding[] {
  const seen = new Set<string>();
  const out: Finding[] = [];
  for (const g of gaps) {
    for (const m of g.missing) {
      const key = `${g.side}\u0000${m.grant}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({
        area: "privileges",
        severity: "error",
        check: "privilege-missing",
        object: { kind: "role", name: g.role },
        problem: `the ${g.service}'s role on the ${g.side} lacks ${m.privilege} on ${m.on}`,
        fix: m.grant,
        code: "PG_PRIVILEGE_MISSING",
      });
    }
  }
  return out;
}
