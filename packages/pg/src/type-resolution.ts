// How one database resolves the type names another database printed: the consumer and
// `zeroloss check` both ask the target what the source's format_type() text means there.
// A type the target lacks resolves to null; one that resolves to another type (a name that
// means something else on the target's search_path) comes back under its target name.
import type pg from "pg";
import { query } from "./connect.js";

/** A type as a column names it: format_type() text and the column's typmod. */
export interface TypeReference {
  readonly type: string;
  readonly typmod: number;
}

/**
 * Per reference, in order: format_type(to_regtype(type), typmod) in this database, or null
 * when it has no such type. Equal to `type` when the database has the same type.
 */
export async function resolveTypeNames(client: pg.Client, types: readonly TypeReference[], what: string): Promise<(string | null)[]> {
  const rows = await query<{ i: string; t: string | null }>(
    client,
    what,
    `SELECT i, format_type(to_regtype(name), typmod) AS t FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS c(name, typmod, i)`,
    [types.map((c) => c.type), types.map((c) => c.typmod)],
  );
  return types.map((_, i) => rows.find((r) => Number(r.i) === i + 1)?.t ?? null);
}
