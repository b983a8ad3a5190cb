// Quoting of SQL identifiers and literals: the one definition every SQL text zeroloss
// builds goes through. It lives in the checksum package because that is the lowest layer
// that writes SQL (the checksum expression); @zeroloss/pg re-exports it for everyone else.

/** `"name"`: always quoted, so case, spaces and keywords survive. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * `'text'` for a standard_conforming_strings session (the default since PostgreSQL 9.1,
 * and what zeroloss's connections use): only the quote is doubled. Prefer a bind
 * parameter; this is for statements that take none (SET, replication commands, DDL).
 */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
