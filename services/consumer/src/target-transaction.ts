// Partition batches applied to the target in one database transaction (DESIGN.md,
// "consumer"; several partitions' batches share one when they may, see applyBatches): the
// steps of the batches in order (rows: apply-rows.ts, bulk records: apply-bulk.ts,
// truncates here), each letting the target recompute every checksum from the values it
// stored, then the bookkeeping (quarantine rows, applied position, outbox of tallies and DLQ
// records) in the same transaction. Nothing here talks to Kafka.
import { APPLIED_POSITIONS, OUTBOX, QUARANTINE, TRUNCATIONS } from "@zeroloss/bookkeeping";
import type { Failpoints } from "@zeroloss/failpoints";
import { ZerolossError, type ErrorCode } from "@zeroloss/errors";
import { inTransaction, parseLsn, query, type Client } from "@zeroloss/pg";
import { encodeDlqRecord, encodeJson, lenientSource, rowsOfRecord, type DlqRecord, type Tally } from "@zeroloss/wire";
import { mergePlans, type BatchPlan } from "./batch.js";
import { tableSql, truncateSql, type TableSql } from "./table-sql.js";
import { talliesOf, type RecordRows } from "./written-tallies.js";
import { applyBulk } from "./apply-bulk.js";
import { applyRows } from "./apply-rows.js";
import type { TargetTable } from "./target-schema.js";

export { APPLIED, DUPLICATE, QUARANTINED } from "./written-tallies.js";
import { DUPLICATE, QUARANTINED } from "./written-tallies.js";

/** One fetched partition batch, planned. */
export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  /** The offset after the batch (its last offset + 1, control records included). */
  readonly nextOffset: bigint;
  readonly plan: BatchPlan;
}

export interface BatchContext {
  readonly group: string;
  readonly windowSize: number;
  readonly talliesTopic: string;
  readonly dlqTopic: string;
  /** consumer.before-target-commit (fault injection; Failpoints.none in production). */
  readonly failpoints: Failpoints;
}

export interface Quarantined {
  readonly index: number;
  readonly code: ErrorCode;
  readonly reason: string;
  readonly table: string | null;
  readonly expected: string | null;
  readonly computed: string | null;
  readonly differing: readonly string[] | null;
  readonly basis: string | null;
  /** One row of a bulk record: its canonical key, and its line (key, checksum, values as COPY text) kept in place of the record. */
  readonly key?: string;
  readonly payload?: string;
  /** The rows of its record it covers (one row of a bulk record: 1); absent: all of them. */
  readonly rows?: number;
}

export interface BatchResult {
  /** Per record index: APPLIED, DUPLICATE or QUARANTINED. */
  readonly outcomes: Uint8Array;
  readonly quarantined: readonly Quarantined[];
  readonly tallies: readonly Tally[];
  /** Records at offsets the target had applied before (a replay or a redelivery). */
  readonly replayed: number;
  /** Per record: its rows, and how many of them were quarantined. */
  readonly rows: RecordRows;
}

/** A target connection with its staging tables (temporary, so per connection). */
export class TargetConnection {
  private readonly staging = new Map<string, TableSql>();
  /** Staging tables written in the current batch transaction (the others are empty). */
  private readonly stagedInBatch = new Set<string>();

  constructor(readonly client: Client) {}

  /** Called at each batch transaction's start: every staging table was emptied by the last commit or rollback. */
  beginBatch(): void {
    this.stagedInBatch.clear();
  }

  /** True when `table`'s staging table already holds rows of this batch transaction, and must be emptied first. */
  staged(table: TargetTable): boolean {
    if (this.stagedInBatch.has(shapeOf(table))) return true;
    this.stagedInBatch.add(shapeOf(table));
    return false;
  }

  /** Creates the staging tables a plan needs, outside the batch transaction (a rollback would drop them). */
  async prepare(plan: BatchPlan): Promise<void> {
    for (const step of plan.steps) {
      if (step.kind === "truncate" || this.staging.has(shapeOf(step.table))) continue;
      const sql = tableSql(step.table, `zl_stage_${this.staging.size}`);
      await query(this.client, `creating the staging table for ${step.table.quoted}`, sql.createStaging);
      this.staging.set(shapeOf(step.table), sql);
    }
  }

  sqlFor(table: TargetTable): TableSql {
    const sql = this.staging.get(shapeOf(table));
    if (sql === undefined) throw new Error(`no staging table prepared for ${table.quoted}`);
    return sql;
  }
}

/**
 * A staging table (and its SQL) per target table, column list and target column names: after
 * the source's DDL the same table is staged in its new shape, and an older list prepared
 * again after a rename writes to the new names.
 */
function shapeOf(table: TargetTable): string {
  return `${table.quoted}${table.columnsJson}${JSON.stringify(table.columns.map((c) => c.column))}`;
}

/** PostgreSQL text cannot hold U+0000; a reason quoting a poison record's bytes may. */
function noNul(s: string): string {
  return s.includes("\u0000") ? s.replace(/\u0000/g, "\\u0000") : s;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function envelopeText(value: Buffer | null): string | null {
  if (value === null || value.includes(0)) return null;
  try {
    return strictUtf8.decode(value);
  } catch {
    return null; // not UTF-8: the raw bytes are kept in the value column instead
  }
}

/**
 * Applies the batches of one or more partitions in one target transaction and returns each
 * batch's result, in order. Batches share a transaction only when mergePlans allows it
 * (different partitions, no key in two of them, no truncate).
 */
export async function applyBatches(conn: TargetConnection, batches: readonly PartitionBatch[], ctx: BatchContext): Promise<BatchResult[]> {
  const db = conn.client;
  const { plan, bases } = mergePlans(batches.map((b) => b.plan));
  // The batch each merged record came from.
  const owner = new Uint16Array(plan.records.length);
  bases.forEach((base, k) => owner.fill(k, base, base + (batches[k] as PartitionBatch).plan.records.length));
  const outcomes = new Uint8Array(plan.records.length); // APPLIED unless found otherwise
  const quarantined: Quarantined[] = plan.malformed.map((m) => ({ ...m, expected: null, computed: null, differing: null, basis: null }));
  for (const m of plan.malformed) outcomes[m.index] = QUARANTINED;
  const truncations = new Map<string, string>();
  const truncationOf = async (table: TargetTable): Promise<string> => {
    let lsn = truncations.get(table.quoted);
    if (lsn === undefined) {
      const rows = await query<{ lsn: string }>(db, `reading the truncation LSN of ${table.quoted}`, `SELECT lsn::text AS lsn FROM ${TRUNCATIONS.sql} WHERE table_name = $1`, [table.quoted]);
      lsn = rows[0]?.lsn ?? "0/0";
      truncations.set(table.quoted, lsn);
    }
    return lsn;
  };
  const partitions = batches.map((b) => `${b.topic}[${b.partition}]`).join(", ");

  await conn.prepare(plan);
  return inTransaction(db, "the batch transaction", async () => {
    conn.beginBatch();
    // Serialises two consumers that briefly both hold a partition during a rebalance; in
    // one order, so two transactions of several partitions cannot wait on each other.
    const locks = [...batches].sort((x, y) => (x.topic < y.topic ? -1 : x.topic > y.topic ? 1 : x.partition - y.partition));
    await query(db, `locking ${partitions}`, "SELECT pg_advisory_xact_lock(hashtext(l.topic), l.partition) FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS l(topic, partition, n) ORDER BY l.n", [
      locks.map((b) => b.topic),
      locks.map((b) => b.partition),
    ]);
    const pos = await query<{ topic: string; partition: string; next_offset: string }>(
      db,
      `reading the applied positions of ${partitions}`,
      `SELECT p.topic, p.partition, p.next_offset FROM ${APPLIED_POSITIONS.sql} p JOIN unnest($1::text[], $2::int[]) AS b(topic, partition) USING (topic, partition)`,
      [batches.map((b) => b.topic), batches.map((b) => b.partition)],
    );
    const appliedBefore = new Map(pos.map((r) => [`${r.topic}:${r.partition}`, BigInt(r.next_offset)]));
    const appliedBelow = (index: number): boolean => {
      const from = batches[owner[index] ?? 0];
      const offset = plan.records[index]?.offset;
      return from !== undefined && offset !== undefined && BigInt(offset) < (appliedBefore.get(`${from.topic}:${from.partition}`) ?? 0n);
    };

    for (const step of plan.steps) {
      if (step.kind === "truncate") {
        const current = await truncationOf(step.table);
        if (parseLsn(step.lsn) <= parseLsn(current)) {
          outcomes[step.index] = DUPLICATE;
          continue;
        }
        const [del, mark, prune] = truncateSql(step.table);
        await query(db, `truncating ${step.table.quoted} below ${step.lsn}`, del, [step.lsn]);
        await query(db, `recording the truncate of ${step.table.quoted}`, mark, [step.lsn, step.table.quoted]);
        await query(db, `pruning tombstones of ${step.table.quoted}`, prune, [step.lsn, step.table.quoted]);
        truncations.set(step.table.quoted, step.lsn);
        continue;
      }
      if (step.kind === "bulk") await applyBulk(conn, step, await truncationOf(step.table), plan, outcomes, quarantined, appliedBelow);
      else await applyRows(conn, step, await truncationOf(step.table), plan, outcomes, quarantined);
    }

    for (const q of quarantined) {
      const rec = plan.records[q.index];
      if (rec === undefined) throw new ZerolossError("INTERNAL", `quarantined record ${q.index} is not in the batch of ${plan.records.length}`);
      const env = plan.envelopes[q.index] ?? null;
      const from = batches[owner[q.index] ?? 0] as PartitionBatch;
      await query(
        db,
        "writing a quarantine row",
        `INSERT INTO ${QUARANTINE.sql} (topic, partition, "offset", reason_code, reason, table_name, record_key, expected_checksum, computed_checksum, differing_columns, diff_basis, envelope, value)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        [
          from.topic,
          from.partition,
          rec.offset,
          q.code,
          noNul(q.reason),
          q.table === null ? null : noNul(q.table),
          q.key ?? envelopeText(rec.key ?? null),
          q.expected ?? env?.checksum ?? null,
          q.computed,
          q.differing,
          q.basis,
          q.payload ?? envelopeText(rec.value ?? null),
          q.payload === undefined ? (rec.value ?? null) : Buffer.from(q.payload, "utf8"),
        ],
      );
      const dlq: DlqRecord = {
        v: 1,
        code: q.code,
        reason: q.reason,
        topic: from.topic,
        partition: from.partition,
        offset: Number(rec.offset),
        table: q.table,
        expectedChecksum: q.expected ?? env?.checksum ?? null,
        computedChecksum: q.computed,
        differingColumns: q.differing,
        key: q.key === undefined ? (rec.key?.toString("base64") ?? null) : Buffer.from(q.key, "utf8").toString("base64"),
        value: q.payload === undefined ? (rec.value?.toString("base64") ?? null) : Buffer.from(q.payload, "utf8").toString("base64"),
        at: new Date().toISOString(),
      };
      await query(db, "writing a DLQ record to the outbox", `INSERT INTO ${OUTBOX.sql} (topic, key, value) VALUES ($1, $2, $3)`, [
        ctx.dlqTopic,
        envelopeText(rec.key ?? null),
        encodeDlqRecord(dlq),
      ]);
    }

    // A record that is no envelope counts the rows it claims, as the counter counts it.
    const rows = Uint32Array.from(plan.envelopes, (env, i) => {
      if (env !== null) return rowsOfRecord(env);
      const value = plan.records[i]?.value ?? null;
      const src = value === null ? "" : lenientSource(value);
      return typeof src === "string" ? 1 : src.rows;
    });
    const badRows = new Uint32Array(plan.records.length);
    for (const q of quarantined) {
      const all = rows[q.index] ?? 1;
      badRows[q.index] = Math.min(all, q.rows === undefined ? all : (badRows[q.index] ?? 0) + q.rows);
    }
    const results = batches.map((b, k): BatchResult => {
      const base = bases[k] as number;
      const end = base + b.plan.records.length;
      const own = outcomes.slice(base, end);
      const recordRows = { rows: rows.subarray(base, end), quarantined: badRows.subarray(base, end) };
      const { tallies, replayed } = talliesOf(b, own, ctx.windowSize, appliedBefore.get(`${b.topic}:${b.partition}`) ?? 0n, recordRows);
      const mine = quarantined.filter((q) => owner[q.index] === k).map((q) => ({ ...q, index: q.index - base }));
      return { outcomes: own, quarantined: mine, tallies, replayed, rows: recordRows };
    });
    const tallies = results.flatMap((r) => r.tallies);
    // The tallies (in order) and the applied positions in one statement: one round trip less
    // per transaction, which at low rates is most of its time.
    await query(
      db,
      "recording the applied positions and the tallies",
      `WITH tallies AS (
         INSERT INTO ${OUTBOX.sql} (topic, key, value) SELECT $5, t.key, t.value FROM unnest($6::text[], $7::bytea[]) WITH ORDINALITY AS t(key, value, n) ORDER BY t.n)
       INSERT INTO ${APPLIED_POSITIONS.sql} (topic, partition, next_offset, consumer_group) SELECT p.topic, p.partition, p.next_offset, $4 FROM unnest($1::text[], $2::int[], $3::bigint[]) AS p(topic, partition, next_offset)
       ON CONFLICT (topic, partition) DO UPDATE SET next_offset = GREATEST(${APPLIED_POSITIONS.sql}.next_offset, excluded.next_offset),
         consumer_group = excluded.consumer_group, updated_at = now()`,
      [
        batches.map((b) => b.topic),
        batches.map((b) => b.partition),
        batches.map((b) => b.nextOffset.toString()),
        ctx.group,
        ctx.talliesTopic,
        tallies.map((t) => `${t.topic}:${t.partition}`),
        tallies.map((t) => encodeJson(t)),
      ],
    );
    await ctx.failpoints.hit("consumer.before-target-commit");
    return results;
  });
}
