// `zeroloss status`: the counter's summary (GET /api/summary) on a terminal or as JSON.
// Exit 0 when nothing is in mismatch or attention and no transaction is incomplete, 1 when
// something is, 2 when the counter cannot be reached (or the configuration is wrong).
import { loadConfig } from "@zeroloss/config";
import type { Summary } from "@zeroloss/wire";

export interface StatusOptions {
  readonly config?: string;
  readonly json: boolean;
  /** The counter's base URL; by default from counter.http in the configuration. */
  readonly url?: string;
}

/** The counter's base URL from its listen address: a wildcard host is reached on loopback. */
export function counterUrl(http: { host: string; port: number }): string {
  const host = http.host === "0.0.0.0" || http.host === "::" ? "127.0.0.1" : http.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${http.port}`;
}

export async function statusCommand(o: StatusOptions): Promise<number> {
  const base = o.url ?? counterUrl((await loadConfig(o.config === undefined ? {} : { file: o.config })).counter.http);
  let s: Summary;
  try {
    const res = await fetch(new URL("/api/summary", base), { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 500)}`);
    s = (await res.json()) as Summary;
  } catch (err) {
    process.stderr.write(`zeroloss status: error [COUNTER_UNREACHABLE]: the counter at ${base} cannot be reached: ${(err as Error).message}\n`);
    return 2;
  }
  if (o.json) {
    process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    return s.ok ? 0 : 1;
  }
  const n = (v: number | null) => (v === null ? "-" : v.toLocaleString("en-US"));
  const lines = [
    s.ok ? "OK: every closed window balances; nothing quarantined, no incomplete transaction" : "PROBLEM: the counts do not add up (see below)",
    `records: emitted ${n(s.totals.emitted)}, in Kafka ${n(s.totals.transferred)}, applied ${n(s.totals.applied)}, ` +
      `duplicate ${n(s.totals.duplicate)}, quarantined ${n(s.totals.quarantined)} (replayed ${n(s.totals.replayed)})`,
    `windows: ${Object.entries(s.windows)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}` + (s.oldestUnbalancedSeconds === null ? "" : `; oldest unbalanced for ${Math.round(s.oldestUnbalancedSeconds)} s (grace ${s.graceSeconds} s)`),
    `transactions: ${Object.entries(s.transactions)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
  ];
  for (const p of s.partitions) {
    lines.push(`  ${p.topic}[${p.partition}]: last balanced offset ${n(p.lastBalancedOffset)}, Kafka lag ${n(p.kafkaLag)}, target lag ${n(p.targetLag)}`);
  }
  for (const w of s.needsAttention) lines.push(`  ${w.state.toUpperCase()} ${w.topic}[${w.partition}] offsets ${w.windowStart}-${w.windowEnd}: ${w.problems.join("; ")}`);
  process.stdout.write(`${lines.join("\n")}\n`);
  return s.ok ? 0 : 1;
}
