// A verification: every chosen table compared by content (compare.ts), its differences
// re-checked until they settle (settle.ts), the lasting ones described column by column.
// `sustained` repeats passes until the asked-for span of zero drift is reached.
import type pg from "pg";
import type { Logger } from "pino";
import type { Config } from "@zeroloss/config";
import { describeError, isZerolossError } from "@zeroloss/errors";
import { query, resolveTables, type TableName } from "@zeroloss/pg";
import { comparePass, type RowState, type Sides } from "./compare.js";
import { planTable, type TablePlan } from "./plan.js";
import type { ColumnDifference, RowDifference, TableReport, VerifyReport } from "@zeroloss/wire";
import { overall } from "./report.js";
import { settle } from "./settle.js";
import { rowValues, type SideTable } from "./sql.js";

export interface Progress {
  readonly table: string;
  /** Rows done in this pass, over all tables so far. */
  readonly rows: number;
  /** The catalog's estimate of all tables' rows (null when unknown). */
  readonly estimatedRows: number | null;
  readonly startedAt: number;
}

export interface VerifyOptions {
  readonly config: Config;
  readonly log: Logger;
  /** schema.table patterns; default verify.tables, else source.tables minus source.exclude. */
  readonly tables?: readonly string[];
  readonly onProgress?: (p: Progress) => void;
  readonly stopped?: () => boolean;
}

async function chooseTables(source: pg.Client, o: VerifyOptions): Promise<TableName[]> {
  const include = o.tables ?? o.config.verify.tables ?? o.config.source.tables;
  const exclude = o.tables === undefined && o.config.verify.tables === undefined ? o.config.source.exclude : [];
  return resolveTables(source, include, exclude);
}

async function describeRow(sides: Sides, table: string, source: SideTable, target: SideTable, d: RowState, settled: boolean): Promise<RowDifference> {
  const key = Object.fromEntries(source.key.map((k, i) => [k, d.key[i]!]));
  const kind = d.target === null ? "missing" : d.source === null ? "extra" : "changed";
  if (kind !== "changed") return { key, kind, settled, columns: [] };
  const s = rowValues(source, d.key);
  const t = rowValues(target, d.key);
  const [[sv], [tv]] = await Promise.all([
    query(sides.source, `reading a differing row of ${table} in the source`, s.sql, s.params),
    query(sides.target, `reading a differing row of ${table} in the target`, t.sql, t.params),
  ]);
  const columns: ColumnDifference[] = [];
  source.columns.forEach((column, i) => {
    const a = sv?.[`c${i}`] ?? null;
    const b = tv?.[`c${i}`] ?? null;
    if (a !== b) columns.push({ column, source: a, target: b });
  });
  return { key, kind, settled, columns };
}

async function verifyTable(sides: Sides, plan: TablePlan, o: VerifyOptions, progress: (rows: number) => void): Promise<TableReport> {
  const started = Date.now();
  const v = o.config.verify;
  const base = { table: plan.table, notes: plan.notes, inFlight: 0 };
  if (plan.target === null) {
    return { ...base, result: "drift", sourceRows: 0, targetRows: 0, rowsCompared: 0, driftRows: 0, durationMs: Date.now() - started, problems: plan.problems, rows: [] };
  }
  let rowsCompared = 0;
  const pass = await comparePass(sides, plan.table, plan.source, plan.target, plan.estimatedRows, {
    leafRows: v.leafRows,
    fanout: v.fanout,
    chunkRows: v.chunkRows,
    onRows: (n) => {
      rowsCompared += n;
      progress(n);
    },
  });
  const settled = await settle(sides, plan.table, plan.source, plan.target, pass.differing.values(), pass.sourceLsn, {
    settleSeconds: v.settleSeconds,
    quietMs: v.quietMs,
    slot: o.config.source.slot,
    topicPrefix: `${o.config.kafka.topicPrefix}.`,
    log: o.log,
    ...(o.stopped === undefined ? {} : { stopped: o.stopped }),
  });
  const lasting = [...settled.confirmed.map((d) => [d, true] as const), ...settled.unsettled.map((d) => [d, false] as const)];
  const rows: RowDifference[] = [];
  for (const [d, isSettled] of lasting.slice(0, v.maxReportedRows)) rows.push(await describeRow(sides, plan.table, plan.source, plan.target, d, isSettled));
  return {
    ...base,
    result: lasting.length === 0 ? "equal" : "drift",
    sourceRows: pass.sourceRows,
    targetRows: pass.targetRows,
    rowsCompared,
    driftRows: lasting.length,
    inFlight: settled.resolved,
    durationMs: Date.now() - started,
    problems: [],
    rows,
  };
}

/** One pass over every chosen table. A table that fails is reported as `error` and the others still run. */
export async function verifyOnce(sides: Sides, o: VerifyOptions): Promise<VerifyReport> {
  const startedAt = Date.now();
  const tables = await chooseTables(sides.source, o);
  const plans: TablePlan[] = [];
  for (const t of tables) plans.push(await planTable(sides.source, sides.target, t));
  const known = plans.map((p) => p.estimatedRows);
  const estimatedRows = known.every((n) => n !== null) ? known.reduce((a: number, n) => a + n!, 0) : null;
  let rows = 0;
  const reports: TableReport[] = [];
  for (const plan of plans) {
    const log = o.log.child({ table: plan.table });
    try {
      const report = await verifyTable(sides, plan, { ...o, log }, (n) => {
        rows += n;
        o.onProgress?.({ table: plan.table, rows, estimatedRows, startedAt });
      });
      log.debug({ result: report.result, driftRows: report.driftRows, ms: report.durationMs }, "table verified");
      reports.push(report);
    } catch (err) {
      if (!isZerolossError(err) || err.retriable) throw err; // a lost connection ends the whole verification
      log.error({ code: err.code, err: describeError(err) }, "table could not be verified");
      reports.push({ table: plan.table, result: "error", sourceRows: 0, targetRows: 0, rowsCompared: 0, driftRows: 0, inFlight: 0, durationMs: 0, problems: [`[${err.code}] ${err.message}`], notes: plan.notes, rows: [] });
    }
  }
  const finishedAt = Date.now();
  return {
    result: overall(reports),
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    durationMs: finishedAt - startedAt,
    passes: 1,
    tables: reports,
  };
}

/**
 * Passes until `seconds` of zero drift are sustained (at least two passes, the span from
 * the first zero-drift pass's start to the last one's end), or until a difference proves to
 * stay (reported at once), or until the time is up (the last pass is reported).
 */
export async function verifySustained(sides: Sides, o: VerifyOptions, seconds: number): Promise<VerifyReport> {
  const started = Date.now();
  const deadline = started + Math.max(3 * seconds, seconds + 2 * o.config.verify.settleSeconds + 60) * 1000;
  let zeroSince: number | null = null;
  let streak = 0;
  let passes = 0;
  for (;;) {
    const passStart = Date.now();
    const r = await verifyOnce(sides, o);
    passes++;
    const withSustain = (reached: number): VerifyReport => ({
      ...r,
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      passes,
      sustain: { seconds, reachedSeconds: reached },
    });
    if (r.result === "error") return withSustain(0);
    const lasting = r.tables.some((t) => t.problems.length > 0 || t.rows.some((row) => row.settled));
    if (r.result === "equal") {
      zeroSince ??= passStart;
      streak++;
      const reached = (Date.now() - zeroSince) / 1000;
      if (streak >= 2 && reached >= seconds) return withSustain(reached);
    } else {
      zeroSince = null;
      streak = 0;
      if (lasting) return withSustain(0);
    }
    if (Date.now() >= deadline || o.stopped?.() === true) return withSustain(zeroSince === null ? 0 : (Date.now() - zeroSince) / 1000);
    o.log.debug({ passes, zeroFor: zeroSince === null ? 0 : (Date.now() - zeroSince) / 1000 }, "sustaining");
  }
}
