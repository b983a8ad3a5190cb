// Numbers as PostgreSQL's text protocol returns them (bigint and numeric arrive as text).

/** A count or offset from a query result; NULL or absent counts as 0. */
export const num = (v: string | null | undefined): number => (v === null || v === undefined ? 0 : Number(v));
