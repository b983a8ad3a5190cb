import { describe, expect, it } from "vitest";
import { parseMetrics, type Sample } from "@zeroloss/observability";
import type { Summary, VerifyReport } from "@zeroloss/wire";
import { buildProof, formatProof, type ProofInputs } from "./proof.js";

const TABLES = ["public.a", "public.b"];

function metrics(lines: string[]): Sample[] {
  return parseMetrics(lines.join("\n"));
}

// The snapshot's rows in bulk records: 100 rows of public.a in 3 records, 50 of public.b in 2.
const producer = metrics([
  'zeroloss_producer_events_total{table="public.a",op="r"} 3',
  'zeroloss_producer_events_total{table="public.a",op="u"} 20',
  'zeroloss_producer_events_total{table="public.b",op="r"} 2',
  'zeroloss_producer_rows_total{table="public.a",op="r"} 100',
  'zeroloss_producer_rows_total{table="public.a",op="u"} 20',
  'zeroloss_producer_rows_total{table="public.b",op="r"} 50',
]);
const consumerLines = [
  'zeroloss_consumer_records_total{table="public.a",result="applied"} 21',
  'zeroloss_consumer_records_total{table="public.a",result="duplicate"} 2',
  'zeroloss_consumer_records_total{table="public.b",result="applied"} 2',
  'zeroloss_consumer_rows_total{table="public.a",result="applied"} 118',
  'zeroloss_consumer_rows_total{table="public.a",result="duplicate"} 2',
  'zeroloss_consumer_rows_total{table="public.b",result="applied"} 50',
  'zeroloss_consumer_end_to_end_seconds_bucket{le="0.1"} 60',
  'zeroloss_consumer_end_to_end_seconds_bucket{le="1"} 70',
  'zeroloss_consumer_end_to_end_seconds_bucket{le="+Inf"} 70',
];
const consumer = metrics(consumerLines);
const summary: Summary = {
  at: "2026-11-21T00:00:00Z",
  graceSeconds: 180,
  totals: { emitted: 25, transferred: 25, applied: 23, duplicate: 2, quarantined: 0, replayed: 0, rows: { emitted: 170, transferred: 170, applied: 168, duplicate: 2, quarantined: 0 } },
  windows: { open: 4, behind: 0, balanced: 3, attention: 0, mismatch: 0, replayed: 0 },
  transactions: { pending: 0, incomplete: 0, complete: 0, applied: 12 },
  oldestUnbalancedSeconds: null,
  partitions: [],
  needsAttention: [],
  slot: { state: "ok", slot: "zeroloss", detail: null, aheadBytes: 0, checkedAt: null },
  problems: [],
  ok: true,
};
const equal: VerifyReport = {
  result: "equal",
  startedAt: "",
  finishedAt: "",
  durationMs: 5200,
  passes: 4,
  sustain: { seconds: 5, reachedSeconds: 5.2 },
  tables: TABLES.map((table) => ({ table, result: "equal", sourceRows: 10, targetRows: 10, rowsCompared: 10, driftRows: 0, inFlight: 0, durationMs: 1, problems: [], notes: [], rows: [] })),
};

function inputs(over: Partial<ProofInputs> = {}): ProofInputs {
  return {
    tables: TABLES,
    producer,
    consumer,
    latencyBefore: [
      { le: 0.1, count: 50 },
      { le: 1, count: 50 },
      { le: Number.POSITIVE_INFINITY, count: 50 },
    ],
    summary,
    verify: { code: 0, report: equal },
    drained: { ok: true, detail: "" },
    backlog: { accounts: 1, payments: 2, ledgerEntries: 3, toasted: 1, seconds: 2, rowsPerSecond: 3 },
    workload: { transactions: 5, byOperation: { pay: 2, settle: 1, refund: 1, profile: 1 }, retried: 0, seconds: 1, changes: 20, changesPerSecond: 20, drainSeconds: 0.5 },
    durationSeconds: 40,
    dashboard: "http://127.0.0.1:9400/",
    files: "/tmp/demo",
    encoding: { kind: "json", registry: null, subjects: {}, expected: {} },
    cutover: { proven: true, problems: [], fenceLsn: "0/1A2B3C4", certificate: "/tmp/demo/cutover/certificate.json", html: "/tmp/demo/cutover/certificate.html", publicKey: "/tmp/demo/keys/public.pem" },
    ...over,
  };
}

describe("the demo's proof", () => {
  it("is proven when the three witnesses agree, with per-table figures and the workload's latency only", () => {
    const p = buildProof(inputs());
    expect(p.claims.filter((c) => !c.ok)).toEqual([]);
    expect(p.proven).toBe(true);
    expect(p.tables).toEqual([
      { table: "public.a", emitted: 120, validated: 120, checksumMismatches: 0, quarantined: 0, sourceRows: 10, targetRows: 10, content: "equal", driftRows: 0 },
      { table: "public.b", emitted: 50, validated: 50, checksumMismatches: 0, quarantined: 0, sourceRows: 10, targetRows: 10, content: "equal", driftRows: 0 },
    ]);
    // 20 observations since the workload began: 10 ≤ 0.1 s, 10 in (0.1, 1]
    expect(p.latency.changes).toBe(20);
    expect(p.latency.p50Ms).toBe(100);
    expect(p.latency.p99Ms).toBe(982);
    const text = formatProof(p);
    expect(text.split("\n")[0]).toBe("PROVEN: nothing was lost or altered on the way.");
    expect(text).toMatch(/public\.a\s+10\s+10\s+120\s+120\s+0\s+equal/);
    expect(text).toContain("certificate: /tmp/demo/cutover/certificate.json");
    expect(text).toContain("check it: npx zeroloss certificate verify /tmp/demo/cutover/certificate.json --public-key /tmp/demo/keys/public.pem");
  });

  it("with Avro, claims every table's subject in the registry", () => {
    const p = buildProof(inputs({ encoding: { kind: "avro", registry: "http://r", subjects: { "zeroloss.public.a-value": [1], "zeroloss.public.b-value": [1, 2] }, expected: { "public.a": "zeroloss.public.a-value", "public.b": "zeroloss.public.b-value" } } }));
    expect(p.proven).toBe(true);
    expect(p.claims.at(-1)).toMatchObject({ ok: true, claim: "every table's records went through the schema registry (Avro)" });
    expect(formatProof(p)).toContain("encoding:   avro, schemas in http://r");
  });

  it.each([
    ["drift found by the verifier", { verify: { code: 1, report: { ...equal, result: "drift" as const, tables: [{ ...equal.tables[0]!, result: "drift" as const, driftRows: 3 }, equal.tables[1]!] } } }, "source and target are equal by content"],
    ["a checksum the target recomputed differently", { consumer: metrics([...consumerLines, 'zeroloss_consumer_checksum_mismatches_total{table="public.b"} 1']) }, "every row's checksum was recomputed by the target database and matched"],
    ["rows the consumer did not validate", { consumer: metrics(['zeroloss_consumer_rows_total{table="public.a",result="applied"} 120', 'zeroloss_consumer_rows_total{table="public.b",result="applied"} 49']) }, "every row's checksum was recomputed by the target database and matched"],
    ["rows emitted that Kafka's records do not hold", { summary: { ...summary, totals: { ...summary.totals, rows: { ...summary.totals.rows, transferred: 169 } } } }, "every change reached Kafka and the target"],
    ["one row of a bulk record quarantined", { summary: { ...summary, totals: { ...summary.totals, rows: { ...summary.totals.rows, applied: 167, quarantined: 1 } } } }, "every change reached Kafka and the target"],
    ["a window in mismatch", { summary: { ...summary, ok: false, windows: { ...summary.windows, mismatch: 1 } } }, "every offset window and source transaction balances"],
    ["records emitted but not in Kafka", { summary: { ...summary, totals: { ...summary.totals, transferred: 169 } } }, "every change reached Kafka and the target"],
    [
      "a table whose records have no subject in the registry (Avro)",
      { encoding: { kind: "avro", registry: "http://r", subjects: { "zeroloss.public.a-value": [1] }, expected: { "public.a": "zeroloss.public.a-value", "public.b": "zeroloss.public.b-value" } } },
      "every table's records went through the schema registry (Avro)",
    ],
    [
      "a cutover that was not proven",
      { cutover: { proven: false, problems: ["1 record(s) quarantined"], fenceLsn: "0/1", certificate: null, html: null, publicKey: "/k" } },
      "the cutover: writes fenced, drained, verified at the cut, sequences and foreign keys settled, signed",
    ],
    ["a pipeline that never drained", { drained: { ok: false, detail: "not drained after 120 s" }, verify: null }, "every change reached Kafka and the target"],
  ])("is not proven with %s", (_what, over, failing) => {
    const p = buildProof(inputs(over as Partial<ProofInputs>));
    expect(p.proven).toBe(false);
    expect(p.claims.filter((c) => !c.ok).map((c) => c.claim)).toContain(failing);
    const text = formatProof(p);
    expect(text.split("\n")[0]).toBe("NOT PROVEN: see the claims marked FAILED below.");
    expect(text).toContain(`FAILED  ${failing}`);
  });
});
