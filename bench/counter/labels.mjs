// Short names for the SQL statements seen on the ledger database, shared by the counter's
// trace (trace.mjs, inside the counter) and the bench's pg_stat_activity and
// pg_stat_statements summaries (run.mjs). Statements not named here keep their first 80
// characters.
/** Short names for the counter's statements (ledger.ts, window-states.ts, transaction-states.ts, summary.ts). */
export function label(sql) {
  const s = sql.replace(/\s+/g, " ").trim();
  const rules = [
    [/^\/\* bench-counter \*\//, "bench: its own sampling"],
    [/^BEGIN/i, "BEGIN"],
    [/^COMMIT/i, "COMMIT"],
    [/^ROLLBACK/i, "ROLLBACK"],
    [/FROM zeroloss_counter\.positions p JOIN unnest.*FOR UPDATE/, "positions: read + lock (storedPositions)"],
    [/FROM zeroloss_counter\.positions p JOIN unnest/, "positions: read (after join)"],
    [/INSERT INTO zeroloss_counter\.tallies_seen/, "tallies_seen insert"],
    [/INSERT INTO zeroloss_counter\.windows/, "windows upsert"],
    [/INSERT INTO zeroloss_counter\.transactions/, "transactions upsert"],
    [/INSERT INTO zeroloss_counter\.partitions/, "partitions upsert"],
    [/INSERT INTO zeroloss_counter\.positions/, "positions upsert"],
    [/UPDATE zeroloss_counter\.transactions t SET applied_at/, "refresh: mark applied transactions"],
    [/DELETE FROM zeroloss_counter\.transactions/, "refresh: prune transactions"],
    [/^SELECT sum\(emitted\)/, "summary: totals"],
    [/GROUP BY state$/, "summary: windows by state"],
    [/AS state, count\(\*\) AS n FROM zeroloss_counter\.transactions/, "summary: transactions by state"],
    [/first_unbalanced/, "summary: per partition"],
    [/WHERE state IN \('mismatch', 'attention', 'pending'\)/, "summary: windows needing attention"],
    [/pg_advisory_xact_lock|CREATE /, "DDL"],
  ];
  for (const [re, name] of rules) if (re.test(s)) return name;
  return s.slice(0, 80);
}

