// A boolean column as a query returns it: `true` from a connection that parses types, `t`
// from one that returns PostgreSQL's text (the consumer's pinned connections, raw results).

export function pgBool(v: unknown): boolean {
  return v === true || v === "t";
}
