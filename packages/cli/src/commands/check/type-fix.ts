// --fix: the enums, domains and composite types the check found missing, created in the
// target from the source's catalog, in one transaction, each after the types it is built from.
// Extensions are not installed: CREATE EXTENSION takes a superuser (or a trusted extension),
// the extension's package on the target's server, and a version whose types behave as the
// source's, all an operator's decisions; the check names the statement instead.
import type { ZerolossError } from "@zeroloss/errors";
import { inTransaction, query, quoteIdent, type Client, type TypeCreationPlan } from "@zeroloss/pg";
import type { CreatedType, Finding } from "./finding.js";
import { kindName, listed, typeName } from "./type-findings.js";

/**
 * --fix: creates `plan.create` in the target, in order, in one transaction (with the schemas
 * they go into, when missing). All or nothing: a failure rolls everything back and throws.
 */
export async function createTypes(target: Client, plan: TypeCreationPlan): Promise<CreatedType[]> {
  if (plan.create.length === 0) return [];
  return inTransaction(
    target,
    "creating the source's types in the target",
    async () => {
      const schemas = [...new Set(plan.create.map((c) => c.type.schema))];
      const existing = new Set((await query<{ nspname: string }>(target, "reading the target's schemas", "SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[])", [schemas])).map((r) => r.nspname));
      for (const s of schemas.filter((x) => !existing.has(x))) await query(target, `creating schema ${s} in the target`, `CREATE SCHEMA ${quoteIdent(s)}`);
      const created: CreatedType[] = [];
      for (const c of plan.create) {
        await query(target, `creating ${kindName(c.type)} ${typeName(c.type)} in the target`, c.sql);
        created.push({ type: typeName(c.type), kind: kindName(c.type), sql: `${c.sql};` });
      }
      return created;
    },
    // The check's sessions are read-only (default_transaction_read_only): this one transaction writes.
    { begin: "BEGIN READ WRITE" },
  );
}

/** A failed --fix as a finding: nothing was created, and the statements to run by hand. */
export function fixFailed(err: ZerolossError, plan: TypeCreationPlan): Finding {
  return {
    area: "types",
    severity: "error",
    check: "type-fix-failed",
    object: { kind: "type", name: listed(plan.create.map((c) => typeName(c.type))) },
    problem: `--fix could not create the types in the target, so it created none (one transaction): [${err.code}] ${err.message}`,
    fix: `resolve the cause (the target role's CREATE on the schema, say) and run zeroloss check --fix again, or run in the target: ${plan.create.map((c) => `${c.sql};`).join(" ")}`,
    code: err.code,
  };
}
