// How each table identifies its rows in the WAL: REPLICA IDENTITY DEFAULT (the primary key),
// USING INDEX, FULL (the whole old row) or NOTHING, and the unique indexes that could serve
// instead of a missing primary key. describeTable gives the key the producer uses; this says
// why a table has none and what would give it one.
import type pg from "pg";
import { qualifiedName, type TableName } from "./catalog.js";
import { pgBool } from "./booleans.js";
import { query } from "./connect.js";

export type ReplicaIdentity = "default" | "index" | "full" | "nothing";

export interface ReplicaIdentityFacts {
  readonly table: TableName;
  readonly identity: ReplicaIdentity;
  readonly hasPrimaryKey: boolean;
  /**
   * Unique indexes REPLICA IDENTITY USING INDEX accepts (immediate, valid, not partial, no
   * expressions, every column NOT NULL), by name.
   */
  readonly candidateIndexes: readonly string[];
}

const IDENTITIES: Readonly<Record<string, ReplicaIdentity>> = { d: "default", i: "index", f: "full", n: "nothing" };

/** Per table (schema.table), its replica identity; tables that do not exist are left out. */
export async function readReplicaIdentities(client: pg.Client, tables: readonly TableName[]): Promise<Map<string, ReplicaIdentityFacts>> {
  const rows = await query<{ schema: string; name: string; ident: string; has_pk: string | boolean; candidates: string }>(
    client,
    "reading the tables' replica identities",
    `SELECT t.schema, t.name, c.relreplident::text AS ident,
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk,
            (SELECT coalesce(json_agg(ic.relname ORDER BY ic.relname), '[]'::json)
               FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
              WHERE i.indrelid = c.oid AND i.indisunique AND i.indimmediate AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
                AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey) k(attnum) JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum WHERE NOT a.attnotnull))::text AS candidates
       FROM unnest($1::text[], $2::text[]) AS t(schema, name)
       JOIN pg_namespace n ON n.nspname = t.schema JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  return new Map(
    rows.map((r) => {
      const table = { schema: r.schema, name: r.name };
      return [qualifiedName(table), { table, identity: IDENTITIES[r.ident] ?? "default", hasPrimaryKey: pgBool(r.has_pk), candidateIndexes: JSON.parse(r.candidates) as string[] }];
    }),
  );
}
