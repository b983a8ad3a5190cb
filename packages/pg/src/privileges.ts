// What each service's database role must be allowed, checked at start so a missing grant is
// one clear error naming the role, the privilege and the GRANT that fixes it, instead of a
// "permission denied" deep in a snapshot or a batch. docs/operations.md has the recipes.
import { ZerolossError } from "@zeroloss/errors";
import type pg from "pg";
import { query } from "./connect.js";
import { quoteIdent } from "@zeroloss/checksum";
import { pgBool } from "./booleans.js";
import { qualifiedName, quoteTable, type TableName } from "./catalog.js";

export interface MissingPrivilege {
  /** REPLICATION, SELECT, CREATE, INSERT, ... */
  readonly privilege: string;
  /** What it is needed on: the role itself, a table, the database, a schema. */
  readonly on: string;
  /** The statement that grants it. */
  readonly grant: string;
}

interface RoleFacts {
  role: string;
  db: string;
  superuser: boolean;
  replication: boolean;
}

async function roleFacts(client: pg.Client): Promise<RoleFacts> {
  const r = await query<{ role: string; db: string; superuser: boolean; replication: boolean }>(
    client,
    "reading the role's privileges",
    `SELECT current_user AS role, current_database() AS db, r.rolsuper AS superuser,
            r.rolreplication OR EXISTS (SELECT 1 FROM pg_roles m WHERE m.rolname = 'rds_replication' AND pg_has_role(current_user, m.oid, 'MEMBER')) AS replication
       FROM pg_roles r WHERE r.rolname = current_user`,
  );
  const row = r[0];
  if (row === undefined) throw new ZerolossError("PG_FAILED", "reading the role's privileges returned no row");
  return { ...row, superuser: pgBool(row.superuser), replication: pgBool(row.replication) };
}


/**
 * The producer's role on the source: REPLICATION (or rds_replication), SELECT on every chosen
 * table, and, while the publication does not exist yet, CREATE on the database and ownership
 * of the tables (what CREATE PUBLICATION … FOR TABLE asks).
 */
export async function missingSourcePrivileges(client: pg.Client, tables: readonly TableName[], publication: string): Promise<{ role: string; missing: MissingPrivilege[] }> {
  const f = await roleFacts(client);
  if (f.superuser) return { role: f.role, missing: [] };
  const role = quoteIdent(f.role);
  const missing: MissingPrivilege[] = [];
  if (!f.replication) {
    missing.push({ privilege: "REPLICATION", on: `role ${f.role}`, grant: `ALTER ROLE ${role} REPLICATION; (Amazon RDS and Aurora: GRANT rds_replication TO ${role};)` });
  }
  const rows = await query<{ schema: string; name: string; can_select: unknown; owns: unknown; owner: string }>(
    client,
    "reading the role's privileges on the chosen tables",
    `SELECT t.schema, t.name, has_table_privilege(c.oid, 'SELECT') AS can_select, pg_has_role(c.relowner, 'USAGE') AS owns, pg_get_userbyid(c.relowner) AS owner
       FROM unnest($1::text[], $2::text[]) AS t(schema, name)
       JOIN pg_namespace n ON n.nspname = t.schema JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  for (const t of rows) {
    if (!pgBool(t.can_select)) missing.push({ privilege: "SELECT", on: `table ${qualifiedName(t)}`, grant: `GRANT SELECT ON ${quoteTable(t)} TO ${role};` });
  }
  const exists = await query(client, "reading the publication", "SELECT 1 FROM pg_publication WHERE pubname = $1", [publication]);
  if (exists.length === 0) {
    const canCreate = await query<{ ok: unknown }>(client, "reading the role's privileges on the database", "SELECT has_database_privilege(current_database(), 'CREATE') AS ok");
    if (!pgBool(canCreate[0]?.ok)) {
      missing.push({ privilege: "CREATE", on: `database ${f.db} (to create publication ${publication})`, grant: `GRANT CREATE ON DATABASE ${quoteIdent(f.db)} TO ${role};` });
    }
    for (const t of rows) {
      if (!pgBool(t.owns)) {
        missing.push({
          privilege: "ownership",
          on: `table ${qualifiedName(t)} (CREATE PUBLICATION … FOR TABLE needs its owner)`,
          grant: `GRANT ${quoteIdent(t.owner)} TO ${role}; or have ${t.owner} run CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE … first`,
        });
      }
    }
  }
  return { role: f.role, missing };
}

/**
 * The consumer's role on the target: its bookkeeping schema (`zeroloss`: CREATE on the
 * database while it is missing, USAGE and CREATE on it once it exists) and, for each given
 * existing target table, SELECT, INSERT, UPDATE and DELETE (a source TRUNCATE is applied as a
 * DELETE). Ownership for target.schemaChanges apply is not checked here: a table that needs
 * no change needs none. With `replicaRole` (target.sessionReplicationRole replica), the
 * right to set session_replication_role: a parameter only superusers set, unless granted
 * with GRANT SET ON PARAMETER (PostgreSQL 15 and later).
 */
export async function missingTargetPrivileges(
  client: pg.Client,
  tables: readonly TableName[] = [],
  options: { readonly replicaRole?: boolean } = {},
): Promise<{ role: string; missing: MissingPrivilege[] }> {
  const f = await roleFacts(client);
  if (f.superuser) return { role: f.role, missing: [] };
  const role = quoteIdent(f.role);
  const missing: MissingPrivilege[] = [];
  if (options.replicaRole === true) {
    // has_parameter_privilege does not exist before 15: asked only where it does.
    const version = await query<{ v: string }>(client, "reading the server's version", "SELECT current_setting('server_version_num') AS v");
    const set =
      Number(version[0]?.v ?? 0) >= 150000
        ? await query<{ ok: unknown }>(client, "reading the role's right to set session_replication_role", "SELECT has_parameter_privilege('session_replication_role', 'SET') AS ok")
        : [];
    if (!pgBool(set[0]?.ok)) {
      missing.push({
        privilege: "SET ON PARAMETER session_replication_role",
        on: "the parameter session_replication_role (target.sessionReplicationRole: replica; PostgreSQL 14 only lets superusers set it)",
        grant: `GRANT SET ON PARAMETER session_replication_role TO ${role};`,
      });
    }
  }
  const schema = await query<{ exists: unknown; usage: unknown; create: unknown; db_create: unknown }>(
    client,
    "reading the role's privileges on the bookkeeping schema",
    `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'zeroloss') AS exists,
            CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'zeroloss') THEN has_schema_privilege('zeroloss', 'USAGE') END AS usage,
            CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'zeroloss') THEN has_schema_privilege('zeroloss', 'CREATE') END AS create,
            has_database_privilege(current_database(), 'CREATE') AS db_create`,
  );
  const s = schema[0];
  if (s !== undefined && !pgBool(s.exists) && !pgBool(s.db_create)) {
    missing.push({ privilege: "CREATE", on: `database ${f.db} (to create the schema zeroloss)`, grant: `GRANT CREATE ON DATABASE ${quoteIdent(f.db)} TO ${role};` });
  }
  if (s !== undefined && pgBool(s.exists)) {
    for (const [p, ok] of [["USAGE", s.usage], ["CREATE", s.create]] as const) {
      if (!pgBool(ok)) missing.push({ privilege: p, on: "schema zeroloss", grant: `GRANT ${p} ON SCHEMA zeroloss TO ${role};` });
    }
  }
  if (tables.length > 0) {
    const rows = await query<{ schema: string; name: string; lacking: string[] | string }>(
      client,
      "reading the role's privileges on the target tables",
      `SELECT t.schema, t.name, ARRAY(SELECT p FROM unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE']) p WHERE NOT has_table_privilege(c.oid, p)) AS lacking
         FROM unnest($1::text[], $2::text[]) AS t(schema, name)
         JOIN pg_namespace n ON n.nspname = t.schema JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name`,
      [tables.map((t) => t.schema), tables.map((t) => t.name)],
    );
    for (const t of rows) {
      const lacking = Array.isArray(t.lacking) ? t.lacking : t.lacking.replace(/^\{|\}$/g, "").split(",").filter((x) => x !== "");
      if (lacking.length > 0) {
        missing.push({ privilege: lacking.join(", "), on: `table ${qualifiedName(t)}`, grant: `GRANT ${lacking.join(", ")} ON ${quoteTable(t)} TO ${role};` });
      }
    }
  }
  return { role: f.role, missing };
}

/**
 * For target tables the consumer will create (absent ones): USAGE and CREATE on each
 * existing schema they go into, and CREATE on the database for a schema it must create
 * first. missingTargetPrivileges checks the tables that exist; the consumer learns of the
 * others only when their first record arrives, and `zeroloss check` asks before then.
 */
export async function missingCreatePrivileges(client: pg.Client, tables: readonly TableName[]): Promise<{ role: string; missing: MissingPrivilege[] }> {
  const f = await roleFacts(client);
  if (f.superuser || tables.length === 0) return { role: f.role, missing: [] };
  const role = quoteIdent(f.role);
  const schemas = [...new Set(tables.map((t) => t.schema))].sort();
  const rows = await query<{ schema: string; exists: unknown; usage: unknown; create: unknown; db_create: unknown }>(
    client,
    "reading the role's privileges on the target schemas",
    `SELECT s.schema, n.oid IS NOT NULL AS exists,
            CASE WHEN n.oid IS NOT NULL THEN has_schema_privilege(n.oid, 'USAGE') END AS usage,
            CASE WHEN n.oid IS NOT NULL THEN has_schema_privilege(n.oid, 'CREATE') END AS create,
            has_database_privilege(current_database(), 'CREATE') AS db_create
       FROM unnest($1::text[]) AS s(schema) LEFT JOIN pg_namespace n ON n.nspname = s.schema ORDER BY 1`,
    [schemas],
  );
  const missing: MissingPrivilege[] = [];
  const absent = rows.filter((r) => !pgBool(r.exists) && !pgBool(r.db_create)).map((r) => r.schema);
  if (absent.length > 0) {
    missing.push({ privilege: "CREATE", on: `database ${f.db} (to create schema ${absent.join(", ")} for its tables)`, grant: `GRANT CREATE ON DATABASE ${quoteIdent(f.db)} TO ${role};` });
  }
  for (const r of rows.filter((x) => pgBool(x.exists))) {
    const lacking = [...(pgBool(r.usage) ? [] : ["USAGE"]), ...(pgBool(r.create) ? [] : ["CREATE"])];
    if (lacking.length > 0) {
      missing.push({ privilege: lacking.join(", "), on: `schema ${r.schema} (to create its tables)`, grant: `GRANT ${lacking.join(", ")} ON SCHEMA ${quoteIdent(r.schema)} TO ${role};` });
    }
  }
  return { role: f.role, missing };
}

/**
 * Ownership of the tables the consumer would ALTER (to fit them to the source's columns, or
 * to add its hidden LSN column): PostgreSQL lets only a table's owner alter it. `why` says,
 * per table, what the consumer would change.
 */
export async function missingOwnership(client: pg.Client, tables: readonly { readonly table: TableName; readonly why: string }[]): Promise<{ role: string; missing: MissingPrivilege[] }> {
  const f = await roleFacts(client);
  if (f.superuser || tables.length === 0) return { role: f.role, missing: [] };
  const role = quoteIdent(f.role);
  const rows = await query<{ schema: string; name: string; owns: unknown; owner: string }>(
    client,
    "reading who owns the target tables",
    `SELECT t.schema, t.name, pg_has_role(c.relowner, 'USAGE') AS owns, pg_get_userbyid(c.relowner) AS owner
       FROM unnest($1::text[], $2::text[]) AS t(schema, name)
       JOIN pg_namespace n ON n.nspname = t.schema JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name`,
    [tables.map((t) => t.table.schema), tables.map((t) => t.table.name)],
  );
  const missing: MissingPrivilege[] = [];
  for (const r of rows) {
    if (pgBool(r.owns)) continue;
    const why = tables.find((t) => t.table.schema === r.schema && t.table.name === r.name)?.why ?? "to alter it";
    missing.push({
      privilege: "ownership",
      on: `table ${qualifiedName(r)} (owned by ${r.owner}; the consumer would ${why})`,
      grant: `ALTER TABLE ${quoteTable(r)} OWNER TO ${role}; (or GRANT ${quoteIdent(r.owner)} TO ${role};)`,
    });
  }
  return { role: f.role, missing };
}

/** PG_PRIVILEGE_MISSING: every missing privilege at once, each with its grant; not retriable. */
export function privilegeError(service: string, where: string, role: string, missing: readonly MissingPrivilege[]): ZerolossError {
  const list = missing.map((m) => `\n  - ${m.privilege} on ${m.on}: ${m.grant}`).join("");
  return new ZerolossError("PG_PRIVILEGE_MISSING", `the ${service}'s role ${role} on ${where} lacks ${missing.length} privilege(s) it needs:${list}\n(docs/operations.md, "Roles and grants")`, {
    details: { role, missing },
  });
}

/**
 * The privileges `zeroloss sequences sync` needs on sequences: USAGE on each one's schema and
 * `privilege` on the sequence itself (SELECT to read its state, UPDATE for setval). An
 * identity or serial sequence has grants of its own: the table's do not cover it.
 */
export async function missingSequencePrivileges(client: pg.Client, sequences: readonly TableName[], privilege: "SELECT" | "UPDATE"): Promise<{ role: string; missing: MissingPrivilege[] }> {
  const f = await roleFacts(client);
  if (f.superuser || sequences.length === 0) return { role: f.role, missing: [] };
  const role = quoteIdent(f.role);
  const rows = await query<{ schema: string; name: string; usage: unknown; granted: unknown }>(
    client,
    `reading the role's ${privilege} privilege on sequences`,
    `SELECT t.schema, t.name, has_schema_privilege(n.oid, 'USAGE') AS usage, has_sequence_privilege(c.oid, $3) AS granted
       FROM unnest($1::text[], $2::text[]) AS t(schema, name)
       JOIN pg_namespace n ON n.nspname = t.schema JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name
      ORDER BY 1, 2`,
    [sequences.map((s) => s.schema), sequences.map((s) => s.name), privilege],
  );
  const missing: MissingPrivilege[] = [];
  const schemas = new Set<string>();
  for (const r of rows) {
    if (!pgBool(r.usage) && !schemas.has(r.schema)) {
      schemas.add(r.schema);
      missing.push({ privilege: "USAGE", on: `schema ${r.schema}`, grant: `GRANT USAGE ON SCHEMA ${quoteIdent(r.schema)} TO ${role};` });
    }
    if (!pgBool(r.granted)) missing.push({ privilege, on: `sequence ${qualifiedName(r)}`, grant: `GRANT ${privilege} ON SEQUENCE ${quoteTable(r)} TO ${role};` });
  }
  return { role: f.role, missing };
}
