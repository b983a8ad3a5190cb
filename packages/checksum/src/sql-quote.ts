// Quoting of SQL identifiers and literals: the one definition every SQL text zeroloss
// builds goes through. It lives in the checksum package because that is the lowest layer
// that writes SQL (the checksum expression); @zeroloss/pg re-exports it for everyone else.

/** `"name"`: always quoted, so case, spaces and keywords survive. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * A string literal that reads the same whatever `standard_conforming_strings` is (a source
 * database may set it off): `'text'`, or `E'te\\xt'` with backslashes doubled when it holds
 * any, as node-postgres's escapeLiteral writes it. Prefer a bind parameter; this is for
 * statements that take none (COPY, SET, DDL).
 */
export function quoteLiteral(value: string): string {
  const quoted = value.replace(/'/g, "''");
  return value.includes("\\") ? `E'${quoted.replace(/\\/g, "\\\\")}'` : `'${quoted}'`;
}

/**
 * A string in a replication command (START_REPLICATION's options): that grammar has no E''
 * strings and no backslash escapes, only doubled quotes.
 */
export function quoteReplicationLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
