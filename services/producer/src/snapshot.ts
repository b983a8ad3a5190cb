// The initial snapshot: each table read in primary-key chunks inside one REPEATABLE READ
// transaction, as op `r` records. Each chunk is one
// Kafka transaction together with the checkpoint of the snapshot's progress, so a crash
// resumes after the last committed chunk: no chunk is read twice, none is missed.
//
// A fresh snapshot imports the one exported when the slot was created, so it sees exactly
// the commits before the consistent point. After a crash that snapshot is gone; the
// remaining chunks are read in a new snapshot. Rows changed after the consistent point
// may then be read in their newer state; those changes are also streamed afterwards
// (the slot still starts at the consistent point), so the target converges to the same
// rows (docs/producer.md, "Snapshot").
//
// An `r` record's LSN is the slot's restart LSN at creation, not its consistent point: a
// transaction still open at the consistent point is invisible to the snapshot, yet its
// changes were written before that point and are streamed with their own, lower LSNs. The
// target keeps a row's newest LSN and takes only newer changes, so a snapshot row stamped
// with the consistent point would win over them and the open transaction's changes would
// be dropped as stale. Every streamed change lies after the restart LSN (the slot decodes
// whole only transactions that began after it), so stamped with it a snapshot row yields
// to all of them. `commitLsn` stays the consistent point.
import { ZerolossError } from "@zeroloss/errors";
import { formatLsn, qualifiedName, query, quoteIdent, quoteTable, type Lsn, type TableInfo } from "@zeroloss/pg";
import type { Checkpoint, SnapshotTableProgress, TopicNames } from "@zeroloss/wire";
import type pg from "pg";
import type { Logger } from "pino";
import { rowRecord, schemaFromTable, type ValueEncoding } from "./envelopes.js";
import type { KafkaWriter } from "./kafka-writer.js";
import { ManifestBuilder } from "./manifest.js";
import type { ProducerMetrics } from "./metrics.js";

export interface SnapshotOptions {
  /** A connection already inside the snapshot's REPEATABLE READ transaction. */
  readonly client: pg.Client;
  readonly tables: readonly TableInfo[];
  readonly progress: readonly SnapshotTableProgress[];
  readonly consistentLsn: Lsn;
  /** The `lsn` of every `r` record: below every change the snapshot did not see (see runSnapshot). */
  readonly floorLsn: Lsn;
  readonly slot: string;
  readonly db: string;
  readonly chunkSize: number;
  readonly topics: TopicNames;
  readonly encoding: ValueEncoding;
  readonly writer: KafkaWriter;
  readonly log: Logger;
  readonly metrics: ProducerMetrics;
  /** Checked between chunks; true stops the snapshot (it resumes on the next start). */
  readonly stopped: () => boolean;
}

/** A table read in primary-key chunks (keyset pagination): shared by the initial snapshot and the live one. */
export interface KeyPages {
  /** Where the key columns are in a row, in the key's own order (the order of `lastKey`). */
  readonly keyIndexes: readonly number[];
  /** The next chunk after `lastKey` (null: from the start), as text values. */
  read(client: pg.Client, lastKey: readonly (string | null)[] | null): Promise<(string | null)[][]>;
}

export function keyPages(info: TableInfo, chunkSize: number): KeyPages {
  const name = qualifiedName(info);
  const keyIndexes = info.keyColumns.map((k) => info.columns.findIndex((c) => c.name === k));
  const keyTypes = keyIndexes.map((i) => info.columns[i]?.sqlType ?? "text");
  const cols = info.columns.map((c) => quoteIdent(c.name)).join(", ");
  const keyList = info.keyColumns.map(quoteIdent).join(", ");
  const after = `ROW(${keyList}) > ROW(${keyTypes.map((t, i) => `$${i + 1}::${t}`).join(", ")})`;
  const first = `SELECT ${cols} FROM ${quoteTable(info)} ORDER BY ${keyList} LIMIT ${chunkSize}`;
  const next = `SELECT ${cols} FROM ${quoteTable(info)} WHERE ${after} ORDER BY ${keyList} LIMIT ${chunkSize}`;
  return {
    keyIndexes,
    async read(client, lastKey) {
      try {
        const res = await client.query<(string | null)[]>({ text: lastKey === null ? first : next, values: lastKey === null ? [] : [...lastKey], rowMode: "array" });
        return res.rows;
      } catch (err) {
        throw new ZerolossError("SNAPSHOT_READ_FAILED", `reading a snapshot chunk of ${name}: ${(err as Error).message}`, {
          retriable: true,
          cause: err,
          details: { table: name, afterKey: lastKey },
        });
      }
    },
  };
}

export function initialProgress(tables: readonly TableInfo[]): SnapshotTableProgress[] {
  return tables.map((t) => ({ table: qualifiedName(t), done: false, lastKey: null, rows: 0 }));
}

export async function runSnapshot(o: SnapshotOptions): Promise<SnapshotTableProgress[]> {
  const log = o.log.child({ component: "snapshot" });
  const progress = new Map(o.progress.map((p) => [p.table, { ...p }]));
  const consistent = formatLsn(o.consistentLsn);
  const floor = formatLsn(o.floorLsn);
  for (const info of o.tables) {
    const name = qualifiedName(info);
    const state = progress.get(name);
    if (state === undefined) {
      throw new ZerolossError("SNAPSHOT_TABLE_UNKNOWN", `table ${name} is not part of the snapshot in progress; finish it or start over with --resnapshot`, {
        details: { table: name },
      });
    }
    if (state.done) continue;
    const rel = await o.encoding.prepare(schemaFromTable(o.topics, info));
    const pages = keyPages(info, o.chunkSize);
    const keyIdx = pages.keyIndexes;
    let estimated = info.estimatedRows;
    if (estimated === null || estimated < 1) {
      const c = await query<{ n: string }>(o.client, `counting ${name}`, `SELECT count(*) AS n FROM ${quoteTable(info)}`);
      estimated = Number(c[0]?.n ?? 0);
    }
    o.metrics.snapshotRowsEstimated.set({ table: name }, Math.max(estimated, state.rows));
    o.metrics.snapshotRows.set({ table: name }, state.rows);
    log.info({ table: name, resumeAfterKey: state.lastKey, rowsDone: state.rows, estimated }, state.rows > 0 ? "resuming table snapshot" : "snapshotting table");
    let lastLog = Date.now();
    for (;;) {
      if (o.stopped()) return [...progress.values()];
      const rows = await pages.read(o.client, state.lastKey);
      const readAt = new Date().toISOString().replace("Z", "000Z");
      const manifest = new ManifestBuilder("snapshot", o.db, null, consistent, readAt);
      let seq = 0;
      for (const row of rows) {
        const built = rowRecord("r", rel, row, {
          db: o.db,
          schema: info.schema,
          table: info.name,
          lsn: floor,
          commitLsn: consistent,
          xid: null,
          commitTime: readAt,
          seq: seq++,
        });
        manifest.add(name, built.record.topic, await o.writer.add(built.record), built.checksum);
      }
      const last = rows[rows.length - 1];
      const done = rows.length < o.chunkSize;
      const updated: SnapshotTableProgress = {
        table: name,
        done,
        lastKey: last === undefined ? state.lastKey : keyIdx.map((i) => last[i] ?? null),
        rows: state.rows + rows.length,
      };
      const checkpoint: Checkpoint = {
        v: 1,
        slot: o.slot,
        db: o.db,
        lsn: consistent,
        phase: "snapshot",
        snapshot: { consistentLsn: consistent, floorLsn: floor, tables: [...progress.values()].map((p) => (p.table === name ? updated : p)) },
        at: new Date().toISOString(),
      };
      await o.writer.commit(rows.length > 0 ? [manifest.build()] : [], checkpoint);
      progress.set(name, updated);
      Object.assign(state, updated);
      o.metrics.snapshotRows.set({ table: name }, state.rows);
      o.metrics.events.inc({ table: name, op: "r" }, rows.length);
      if (Date.now() - lastLog > 5_000 || done) {
        lastLog = Date.now();
        log.info({ table: name, rowsDone: state.rows, estimated, done }, done ? "table snapshot complete" : "snapshot progress");
      }
      if (done) break;
    }
  }
  return [...progress.values()];
}
