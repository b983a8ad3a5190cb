// The demo's proof: the claims it makes and the figures behind each, gathered from the
// services' own metrics, the counter's ledger and the verifier's report — three independent
// witnesses — and printed for a person (or as JSON). Proven only when every claim holds.
import { bucketsSince, histogramBuckets, histogramQuantile, labelValues, sumOf, type Bucket, type Sample } from "@zeroloss/observability";
import type { Summary, VerifyReport } from "@zeroloss/wire";
import type { Backlog } from "./schema.js";
import type { WorkloadStats } from "./workload.js";

export interface TableProof {
  readonly table: string;
  /** Rows the producer committed to Kafka (snapshot rows and changes). */
  readonly emitted: number;
  /** Rows whose checksum the target database recomputed and found equal (applied or duplicate). */
  readonly validated: number;
  readonly checksumMismatches: number;
  readonly quarantined: number;
  /** From the verifier; null when it produced no report. */
  readonly sourceRows: number | null;
  readonly targetRows: number | null;
  readonly content: "equal" | "drift" | "error" | "not verified";
  readonly driftRows: number;
}

export interface Claim {
  readonly claim: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface Proof {
  readonly proven: boolean;
  readonly claims: readonly Claim[];
  readonly tables: readonly TableProof[];
  readonly counter: Pick<Summary, "totals" | "windows" | "transactions" | "ok">;
  readonly verifier: { readonly result: string; readonly passes: number; readonly sustainedSeconds: number | null; readonly durationMs: number; readonly exitCode: number } | null;
  readonly backlog: Backlog & { readonly seconds: number; readonly rowsPerSecond: number };
  readonly workload: WorkloadStats & { readonly changes: number; readonly changesPerSecond: number; readonly drainSeconds: number };
  /** Source commit → target commit of the workload's changes, estimated from the consumer's histogram buckets. */
  readonly latency: { readonly p50Ms: number | null; readonly p99Ms: number | null; readonly changes: number };
  readonly durationSeconds: number;
  readonly dashboard: string;
  readonly files: string;
  /** How record values travelled: json, or avro with the registry's subjects and their versions. */
  readonly encoding: Encoding;
  /** The cutover the demo ends with; null when it did not run (the pipeline did not drain, or the verifier found drift). */
  readonly cutover: DemoCutover | null;
}

export interface DemoCutover {
  readonly proven: boolean;
  readonly problems: readonly string[];
  readonly fenceLsn: string | null;
  readonly certificate: string | null;
  readonly html: string | null;
  readonly publicKey: string;
}

export interface Encoding {
  readonly kind: "json" | "avro";
  readonly registry: string | null;
  /** Subject → versions, read from the registry after the run (avro). */
  readonly subjects: Readonly<Record<string, readonly number[]>>;
  /** The subject each demo table's records must be under (avro). */
  readonly expected: Readonly<Record<string, string>>;
}

export interface ProofInputs {
  readonly tables: readonly string[];
  readonly producer: readonly Sample[];
  readonly consumer: readonly Sample[];
  /** The consumer's end-to-end histogram when the workload began (after the backlog). */
  readonly latencyBefore: readonly Bucket[];
  readonly summary: Summary;
  /** null when the pipeline never drained (then the verifier is not asked either). */
  readonly verify: { readonly code: number; readonly report: VerifyReport | null } | null;
  readonly drained: { readonly ok: boolean; readonly detail: string };
  readonly backlog: Proof["backlog"];
  readonly workload: Proof["workload"];
  readonly durationSeconds: number;
  readonly dashboard: string;
  readonly files: string;
  readonly encoding: Encoding;
  readonly cutover: DemoCutover | null;
}

export const LATENCY_METRIC = "zeroloss_consumer_end_to_end_seconds";
const n = (v: number) => v.toLocaleString("en-US");
const ms = (seconds: number | null) => (seconds === null ? null : Math.round(seconds * 1000));

export function buildProof(i: ProofInputs): Proof {
  const reported = new Map((i.verify?.report?.tables ?? []).map((t) => [t.table, t]));
  const tables: TableProof[] = i.tables.map((table) => {
    const v = reported.get(table);
    return {
      table,
      emitted: sumOf(i.producer, "zeroloss_producer_rows_total", { table }),
      validated: sumOf(i.consumer, "zeroloss_consumer_rows_total", { table, result: "applied" }) + sumOf(i.consumer, "zeroloss_consumer_rows_total", { table, result: "duplicate" }),
      checksumMismatches: sumOf(i.consumer, "zeroloss_consumer_checksum_mismatches_total", { table }),
      quarantined: sumOf(i.consumer, "zeroloss_consumer_rows_total", { table, result: "quarantined" }),
      sourceRows: v?.sourceRows ?? null,
      targetRows: v?.targetRows ?? null,
      content: v?.result ?? "not verified",
      driftRows: v?.driftRows ?? 0,
    };
  });
  const unexpectedTables = labelValues(i.producer, "zeroloss_producer_rows_total", "table").filter((t) => !i.tables.includes(t));
  const t = i.summary.totals;
  const r = t.rows;
  const producerEmitted = sumOf(i.producer, "zeroloss_producer_events_total");
  const producerRows = sumOf(i.producer, "zeroloss_producer_rows_total");
  const w = i.summary.windows;
  const tx = i.summary.transactions;
  const latency = bucketsSince(histogramBuckets(i.consumer, LATENCY_METRIC), i.latencyBefore);

  const claims: Claim[] = [
    {
      claim: "every change reached Kafka and the target",
      ok:
        i.drained.ok &&
        t.emitted === producerEmitted &&
        t.transferred === t.emitted &&
        t.applied + t.duplicate === t.emitted &&
        t.quarantined === 0 &&
        r.emitted === producerRows &&
        r.transferred === r.emitted &&
        r.applied + r.duplicate === r.emitted &&
        r.quarantined === 0,
      detail:
        `producer committed ${n(producerRows)} rows in ${n(producerEmitted)} records; the counter's ledger, rows (records): ` +
        `emitted ${n(r.emitted)} (${n(t.emitted)}), in Kafka ${n(r.transferred)} (${n(t.transferred)}), ` +
        `applied ${n(r.applied)} (${n(t.applied)}) + duplicate ${n(r.duplicate)} (${n(t.duplicate)}), quarantined ${n(r.quarantined)} (${n(t.quarantined)})` +
        (i.drained.ok ? "" : `; ${i.drained.detail}`),
    },
    {
      claim: "every offset window and source transaction balances",
      ok: i.summary.ok && w.behind === 0 && w.mismatch === 0 && w.attention === 0 && tx.pending === 0 && tx.incomplete === 0 && tx.complete === 0,
      detail:
        `windows: ${n(w.balanced + w.replayed)} closed and balanced, ${n(w.open)} open and balanced so far, ${n(w.behind)} behind, ${n(w.mismatch)} mismatch, ${n(w.attention)} attention; ` +
        `transactions: ${n(tx.applied)} applied, ${n(tx.pending + tx.complete)} on their way, ${n(tx.incomplete)} incomplete`,
    },
    {
      claim: "every row's checksum was recomputed by the target database and matched",
      ok: unexpectedTables.length === 0 && tables.every((x) => x.emitted > 0 && x.validated >= x.emitted && x.checksumMismatches === 0 && x.quarantined === 0),
      detail:
        tables.map((x) => `${x.table} ${n(x.validated)} of ${n(x.emitted)}${x.checksumMismatches > 0 ? `, ${n(x.checksumMismatches)} MISMATCHED` : ""}`).join("; ") +
        (unexpectedTables.length > 0 ? `; events for tables the demo did not create: ${unexpectedTables.join(", ")}` : ""),
    },
    {
      claim: "source and target are equal by content",
      ok: i.verify !== null && i.verify.code === 0 && i.verify.report?.result === "equal",
      detail:
        i.verify === null
          ? "not verified: the pipeline did not drain"
          : i.verify.report === null
            ? `the verifier exited ${i.verify.code} without a report`
            : `verifier ${i.verify.report.result}: ${i.verify.report.passes} pass(es)` +
              (i.verify.report.sustain === undefined ? "" : `, zero drift sustained ${i.verify.report.sustain.reachedSeconds.toFixed(1)} s`) +
              `, ${tables.reduce((a, x) => a + x.driftRows, 0)} row(s) differing`,
    },
  ];
  claims.push({
    claim: "the cutover: writes fenced, drained, verified at the cut, sequences and foreign keys settled, signed",
    ok: i.cutover !== null && i.cutover.proven,
    detail:
      i.cutover === null
        ? "not run: the claims above did not hold"
        : i.cutover.proven
          ? `fence LSN ${i.cutover.fenceLsn ?? "?"}; certificate ${i.cutover.certificate ?? "-"}`
          : `not proven: ${i.cutover.problems.join("; ") || "see the cutover's output above"}`,
  });
  if (i.encoding.kind === "avro") {
    const e = i.encoding;
    const missing = Object.entries(e.expected).filter(([, subject]) => (e.subjects[subject] ?? []).length === 0);
    claims.push({
      claim: "every table's records went through the schema registry (Avro)",
      ok: missing.length === 0,
      detail:
        Object.entries(e.expected)
          .map(([t, subject]) => `${t}: subject ${subject}, version(s) ${(e.subjects[subject] ?? []).join(", ") || "none"}`)
          .join("; ") + ` (${e.registry ?? "no registry"})`,
    });
  }
  const report = i.verify?.report ?? null;
  return {
    proven: claims.every((c) => c.ok),
    claims,
    tables,
    counter: { totals: t, windows: w, transactions: tx, ok: i.summary.ok },
    verifier:
      i.verify === null
        ? null
        : {
            result: report?.result ?? "error",
            passes: report?.passes ?? 0,
            sustainedSeconds: report?.sustain?.reachedSeconds ?? null,
            durationMs: report?.durationMs ?? 0,
            exitCode: i.verify.code,
          },
    backlog: i.backlog,
    workload: i.workload,
    latency: { p50Ms: ms(histogramQuantile(0.5, latency)), p99Ms: ms(histogramQuantile(0.99, latency)), changes: latency.at(-1)?.count ?? 0 },
    durationSeconds: i.durationSeconds,
    dashboard: i.dashboard,
    files: i.files,
    encoding: i.encoding,
    cutover: i.cutover,
  };
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length))) ?? [];
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join("   ").trimEnd());
}

/** The proof for a terminal. The first line is `PROVEN` or `NOT PROVEN`. */
export function formatProof(p: Proof): string {
  const lat = (v: number | null) => (v === null ? "-" : v < 1000 ? `${v} ms` : `${(v / 1000).toFixed(2)} s`);
  const lines = [
    p.proven ? "PROVEN: nothing was lost or altered on the way." : "NOT PROVEN: see the claims marked FAILED below.",
    "",
    ...table([
      ["table", "source rows", "target rows", "rows emitted", "rows validated", "mismatched", "content"],
      ...p.tables.map((t) => [
        t.table,
        t.sourceRows === null ? "-" : n(t.sourceRows),
        t.targetRows === null ? "-" : n(t.targetRows),
        n(t.emitted),
        n(t.validated),
        n(t.checksumMismatches),
        t.content === "drift" ? `drift (${n(t.driftRows)} rows)` : t.content,
      ]),
    ]).map((l) => `  ${l}`),
    "",
    ...p.claims.flatMap((c) => [`  ${c.ok ? "ok    " : "FAILED"}  ${c.claim}`, `          ${c.detail}`]),
    "",
    `  backlog:    ${n(p.backlog.accounts)} accounts, ${n(p.backlog.payments)} payments (${n(p.backlog.toasted)} with a TOASTed remittance), ` +
      `${n(p.backlog.ledgerEntries)} ledger entries: snapshotted and applied in ${p.backlog.seconds.toFixed(1)} s (${n(Math.round(p.backlog.rowsPerSecond))} rows/s)`,
    `  workload:   ${n(p.workload.transactions)} source transactions in ${p.workload.seconds.toFixed(1)} s ` +
      `(pay ${n(p.workload.byOperation.pay)}, settle ${n(p.workload.byOperation.settle)}, refund ${n(p.workload.byOperation.refund)}, profile ${n(p.workload.byOperation.profile)}` +
      `${p.workload.retried > 0 ? `; ${n(p.workload.retried)} retried after a deadlock` : ""}), ` +
      `${n(p.workload.changes)} row changes (${n(Math.round(p.workload.changesPerSecond))}/s); all applied ${p.workload.drainSeconds.toFixed(1)} s after the workload stopped`,
    `  latency:    source commit → target commit p50 ${lat(p.latency.p50Ms)}, p99 ${lat(p.latency.p99Ms)} over ${n(p.latency.changes)} changes (from the consumer's histogram buckets)`,
    `  verifier:   ${p.verifier === null ? "not run" : `${p.verifier.result}, ${p.verifier.passes} pass(es) in ${(p.verifier.durationMs / 1000).toFixed(1)} s, exit ${p.verifier.exitCode}`}`,
    `  encoding:   ${p.encoding.kind}${p.encoding.registry === null ? "" : `, schemas in ${p.encoding.registry}`}`,
    `  total time: ${p.durationSeconds.toFixed(1)} s`,
    `  files:      ${p.files} (zeroloss.yaml, service logs, proof.json)`,
    ...(p.cutover === null || p.cutover.certificate === null
      ? []
      : [
          `  certificate: ${p.cutover.certificate}`,
          `               ${p.cutover.html ?? ""} (a page to read)`,
          `               check it: npx zeroloss certificate verify ${p.cutover.certificate} --public-key ${p.cutover.publicKey}`,
        ]),
  ];
  return `${lines.join("\n")}\n`;
}
