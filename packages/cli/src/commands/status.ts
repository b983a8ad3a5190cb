// `zeroloss status`: the counter's summary (GET /api/summary) on a terminal or as JSON.
// Exit 0 when nothing is proven wrong and nothing is quarantined (windows that are only
// behind are not a problem), 1 when something is, 2 when the counter cannot be reached (or
// the configuration is wrong).
import { loadConfig } from "@zeroloss/config";
import { isZerolossError } from "@zeroloss/errors";
import type { Summary } from "@zeroloss/wire";
import { counterEndpoint, fetchSummary } from "./counter-client.js";

export interface StatusOptions {
  readonly config?: string;
  readonly json: boolean;
  /** The counter's base URL; by default from counter.http in the configuration. */
  readonly url?: string;
}

/**
 * The first line, from the same figures as the exit code: it never says OK beside a
 * quarantined record, and says "behind" (not a problem) while records are on their way.
 */
export function headline(s: Summary): string {
  if (!s.ok) {
    const what = [
      ...(s.problems ?? []).map((p) => p.split(":")[0] ?? p),
      s.windows.mismatch > 0 ? `${s.windows.mismatch} window(s) in mismatch` : null,
      s.totals.quarantined > 0 || s.windows.attention > 0 ? `${s.totals.quarantined} record(s) quarantined (${s.windows.attention} window(s) need attention)` : null,
      s.transactions.incomplete > 0 ? `${s.transactions.incomplete} incomplete transaction(s)` : null,
    ].filter((x) => x !== null);
    return `PROBLEM: ${what.length > 0 ? what.join("; ") : "the counts do not add up"} (see below)`;
  }
  const behind = s.windows.behind + s.transactions.pending;
  if (behind > 0) {
    return `OK so far, behind: ${s.windows.behind} window(s) and ${s.transactions.pending} transaction(s) pending (records on their way, or the counter still reading); nothing proven wrong, nothing quarantined`;
  }
  return "OK: every closed window balances, the open ones so far; nothing quarantined, no incomplete transaction";
}

/** 42 s, 12 min, 3.5 h. */
function formatSeconds(s: number): string {
  return s < 90 ? `${s} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}

export async function statusCommand(o: StatusOptions): Promise<number> {
  // The configuration gives the counter's address and, with counter.http.tokenFile, its bearer token.
  const config = o.url === undefined || o.config !== undefined ? await loadConfig(o.config === undefined ? {} : { file: o.config }) : null;
  const endpoint = counterEndpoint(config, o.url);
  let s: Summary;
  try {
    s = await fetchSummary(endpoint);
  } catch (err) {
    if (!isZerolossError(err)) throw err;
    // Printed, not thrown: it exits 2 where a thrown error exits 1.
    process.stderr.write(`zeroloss status: error [${err.code}]: ${err.message}\n`);
    return 2;
  }
  if (o.json) {
    process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    return s.ok ? 0 : 1;
  }
  const n = (v: number | null) => (v === null ? "-" : v.toLocaleString("en-US"));
  const lines = [
    headline(s),
    `records: emitted ${n(s.totals.emitted)}, in Kafka ${n(s.totals.transferred)}, applied ${n(s.totals.applied)}, ` +
      `duplicate ${n(s.totals.duplicate)}, quarantined ${n(s.totals.quarantined)} (replayed ${n(s.totals.replayed)})`,
    ...(s.totals.rows === undefined
      ? [] // a counter before 2026-12
      : [
          `rows:    emitted ${n(s.totals.rows.emitted)}, in Kafka ${n(s.totals.rows.transferred)}, applied ${n(s.totals.rows.applied)}, ` +
            `duplicate ${n(s.totals.rows.duplicate)}, quarantined ${n(s.totals.rows.quarantined)}`,
        ]),
    `windows: ${Object.entries(s.windows)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}` + (s.oldestUnbalancedSeconds === null ? "" : `; oldest unbalanced for ${Math.round(s.oldestUnbalancedSeconds)} s`),
    `transactions: ${Object.entries(s.transactions)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
  ];
  for (const t of (s.snapshots ?? []).filter((x) => !x.done)) {
    const of = t.estimatedRows === null ? "" : ` of about ${n(t.estimatedRows)}`;
    const rate = t.rowsPerSecond === null ? "" : `, ${n(t.rowsPerSecond)} rows/s`;
    const eta = t.etaSeconds === null ? "" : `, about ${formatSeconds(t.etaSeconds)} left`;
    lines.push(`  snapshot of ${t.table} (${t.kind === "initial" ? "initial" : "while streaming"}): ${n(t.rows)}${of} rows in Kafka${rate}${eta}`);
  }
  const ended = (s.snapshots ?? []).filter((x) => x.done);
  if (ended.length > 0) lines.push(`  snapshots done: ${ended.length} table(s), ${n(ended.reduce((a, x) => a + x.rows, 0))} rows`);
  for (const p of s.partitions) {
    lines.push(
      `  ${p.topic}[${p.partition}]: last balanced offset ${n(p.lastBalancedOffset)}, counter read to ${n(p.readTo)} (${n(p.counterLag)} behind the end), ` +
        `Kafka lag ${n(p.kafkaLag)}, target lag ${n(p.targetLag)}`,
    );
  }
  for (const p of s.problems ?? []) lines.push(`  PROBLEM ${p}`);
  if (s.slot !== undefined && s.slot.state === "unknown") lines.push(`  slot check: not decided (${s.slot.detail ?? "not run yet"})`);
  for (const w of s.needsAttention) lines.push(`  ${w.state.toUpperCase()} ${w.topic}[${w.partition}] offsets ${w.windowStart}-${w.windowEnd}: ${w.problems.join("; ")}`);
  process.stdout.write(`${lines.join("\n")}\n`);
  return s.ok ? 0 : 1;
}
