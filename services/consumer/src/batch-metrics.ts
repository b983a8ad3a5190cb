// What a batch's outcome adds to the consumer's metrics: records and rows per table and
// result, latency from the source commit, checksum mismatches and malformed records, and a
// warning per quarantined record naming its reason.
import type { Logger } from "pino";
import { APPLIED, DUPLICATE, type BatchResult } from "./target-transaction.js";
import type { BatchPlan } from "./batch.js";
import type { ConsumerMetrics } from "./metrics.js";

export function observeBatch(m: ConsumerMetrics, log: Logger, plan: BatchPlan, result: BatchResult): void {
  const now = Date.now();
  let lastTime = "";
  let lastMs = 0;
  m.batchRecords.observe(plan.records.length);
  // Counted per (table, result) first: a labelled inc per record costs more than the rest of this loop.
  const counts = new Map<string, { table: string; result: string; n: number; rows: number }>();
  const count = (table: string, res: string, n: number, rows: number): void => {
    if (n === 0 && rows === 0) return;
    const k = `${res}\u0000${table}`;
    const c = counts.get(k);
    if (c === undefined) counts.set(k, { table, result: res, n, rows });
    else {
      c.n += n;
      c.rows += rows;
    }
  };
  plan.envelopes.forEach((env, i) => {
    const table = env === null ? "unknown" : `${env.source.schema}.${env.source.table}`;
    const o = result.outcomes[i];
    const res = o === APPLIED ? "applied" : o === DUPLICATE ? "duplicate" : "quarantined";
    // A bulk record with one bad row: the record quarantined, its other rows applied.
    const rows = result.rows.rows[i] ?? 1;
    const bad = result.rows.quarantined[i] ?? 0;
    count(table, res, 1, res === "quarantined" ? bad : rows - bad);
    if (res === "quarantined" && rows > bad) count(table, "applied", 0, rows - bad);
    else if (res !== "quarantined" && bad > 0) count(table, "quarantined", 0, bad);
    if (env !== null && o === APPLIED) {
      if (env.source.commitTime !== lastTime) {
        lastTime = env.source.commitTime;
        lastMs = Date.parse(lastTime);
      }
      if (Number.isFinite(lastMs)) m.latency.observe(Math.max(0, now - lastMs) / 1000);
    }
  });
  for (const c of counts.values()) {
    if (c.n > 0) {
      m.consumed.inc({ table: c.table }, c.n);
      m.records.inc({ table: c.table, result: c.result }, c.n);
    }
    if (c.rows > 0) m.rows.inc({ table: c.table, result: c.result }, c.rows);
  }
  for (const q of result.quarantined) {
    if (q.code === "CHECKSUM_MISMATCH") m.checksumMismatches.inc({ table: q.table ?? "unknown" });
    else if (q.table === null || q.code.startsWith("WIRE_")) m.malformed.inc({ code: q.code });
    log.warn({ code: q.code, table: q.table, offset: plan.records[q.index]?.offset, differingColumns: q.differing }, `quarantined: ${q.reason}`);
  }
}
