// What one fetched batch of one partition adds to the ledger, computed without I/O:
//   - a data topic's records: `transferred` per offset window (records counted, never offset
//     differences: commit markers and aborted records take offsets too; and the rows they
//     hold, a bulk snapshot record's rows.count), the offsets seen as
//     ranges, and per source transaction the records seen per table;
//   - the tallies topic: emitted and written counts per window, each tally once (by its
//     stage, topic, partition, first offset and replay flag: the consumer's outbox may send
//     a tally twice), and the offsets a written tally says the consumer passed over;
//   - the manifests topic: what each source transaction (or snapshot chunk) holds, and the
//     offsets its records lie below in each partition (its bounds);
//   - the checkpoints topic: snapshot progress per table (snapshots.ts).
// ledger.ts writes a batch's deltas in one database transaction with the new position.
import { schemaIdOf } from "@zeroloss/avro";
import { isZerolossError } from "@zeroloss/errors";
import { decodeManifest, decodeTally, lenientSource, windowPieces, windowStartOf, type Manifest, type SourceBlock, type Tally } from "@zeroloss/wire";
import { emptySnapshotDeltas, type SnapshotDeltas } from "./snapshots.js";

export interface WindowDelta {
  readonly topic: string;
  readonly partition: number;
  readonly windowStart: number;
  emitted: number;
  transferred: number;
  applied: number;
  duplicate: number;
  quarantined: number;
  replayRecords: number;
  replayTallies: number;
  /** The same counts in rows (a bulk snapshot record holds many; every other record one). */
  readonly rows: RowCounts;
  /** A tally without rows (a service before 2026-12) counted here: the window's rows are not compared. */
  rowsInexact: boolean;
  /** Half-open offset ranges [from, to) seen in Kafka (data records only). */
  readonly transferredRanges: [number, number][];
  /** Ranges [first, last + 1) the producer's emitted tallies cover. */
  readonly emittedRanges: [number, number][];
  /** Ranges [first, last + 1) the consumer's (non-replay) written tallies cover. */
  readonly writtenRanges: [number, number][];
  /** Ranges [after, first) the consumer's written tallies say it passed over without writing. */
  readonly skippedRanges: [number, number][];
}

export interface RowCounts {
  emitted: number;
  transferred: number;
  applied: number;
  duplicate: number;
  quarantined: number;
}

/** A source transaction or snapshot chunk, identified the same way by its records and its manifest. */
export interface TxnKey {
  readonly db: string;
  readonly commitLsn: string;
  readonly commitTime: string;
}

export interface TxnDelta extends TxnKey {
  kind: "transaction" | "snapshot" | null;
  xid: number | null;
  /** Records seen in the data topics, per `schema.table`. */
  readonly seen: Record<string, number>;
  /** "topic:partition" → the offsets holding its records, as half-open ranges in offset order. */
  readonly offsets: Record<string, [number, number][]>;
  manifest: Manifest | null;
}

export interface BatchDeltas {
  readonly windows: Map<string, WindowDelta>;
  readonly transactions: Map<string, TxnDelta>;
  readonly tallies: Tally[];
  /** "topic:partition" → the highest manifest bound read for it (manifests are in commit order). */
  readonly manifestBounds: Map<string, number>;
  /** The checkpoints topic: snapshot progress (snapshots.ts). */
  readonly snapshots: SnapshotDeltas;
  /** Records the counter could not use, with why: not an envelope, tally or manifest, or a tally of another window size (data records still count as transferred). */
  readonly rejected: { offset: string; reason: string }[];
}

export function emptyDeltas(): BatchDeltas {
  return { windows: new Map(), transactions: new Map(), tallies: [], manifestBounds: new Map(), snapshots: emptySnapshotDeltas(), rejected: [] };
}

/** Appends offset `offset` to ascending half-open ranges, extending the last when adjacent. */
function addOffset(ranges: [number, number][], offset: number): void {
  const last = ranges[ranges.length - 1];
  if (last !== undefined && last[1] === offset) last[1] = offset + 1;
  else ranges.push([offset, offset + 1]);
}

function windowOf(d: BatchDeltas, topic: string, partition: number, windowStart: number): WindowDelta {
  const k = `${topic}\u0000${partition}\u0000${windowStart}`;
  let w = d.windows.get(k);
  if (w === undefined) {
    w = {
      topic,
      partition,
      windowStart,
      emitted: 0,
      transferred: 0,
      applied: 0,
      duplicate: 0,
      quarantined: 0,
      replayRecords: 0,
      replayTallies: 0,
      rows: { emitted: 0, transferred: 0, applied: 0, duplicate: 0, quarantined: 0 },
      rowsInexact: false,
      transferredRanges: [],
      emittedRanges: [],
      writtenRanges: [],
      skippedRanges: [],
    };
    d.windows.set(k, w);
  }
  return w;
}

function txnOf(d: BatchDeltas, key: TxnKey): TxnDelta {
  const k = `${key.db}\u0000${key.commitLsn}\u0000${key.commitTime}`;
  let t = d.transactions.get(k);
  if (t === undefined) {
    t = { db: key.db, commitLsn: key.commitLsn, commitTime: key.commitTime, kind: null, xid: null, seen: {}, offsets: {}, manifest: null };
    d.transactions.set(k, t);
  }
  return t;
}

export interface InputRecord {
  readonly offset: string;
  readonly value: Buffer | null;
}

/** Reads the source block of an Avro value (its schema loaded); null: no registry is configured. */
export type AvroSource = ((value: Buffer) => SourceBlock) | null;

function sourceOf(value: Buffer | null, avro: AvroSource): SourceBlock | string {
  if (value === null) return "a record without a value";
  const id = schemaIdOf(value);
  if (id !== null) {
    if (avro === null) return `an Avro record (schema id ${id}), and kafka.registry.url is not set`;
    try {
      return avro(value);
    } catch (err) {
      if (!isZerolossError(err) || err.retriable) throw err;
      return `an Avro record that does not decode: ${err.message}`;
    }
  }
  return lenientSource(value);
}

/** Adds a data topic's records (offset order) to `d`. */
export function addDataRecords(d: BatchDeltas, topic: string, partition: number, records: readonly InputRecord[], windowSize: number, avro: AvroSource = null): void {
  let w: WindowDelta | null = null;
  for (const r of records) {
    const offset = Number(r.offset);
    const start = windowStartOf(offset, windowSize);
    if (w === null || w.windowStart !== start) w = windowOf(d, topic, partition, start);
    w.transferred++;
    addOffset(w.transferredRanges, offset);
    const src = sourceOf(r.value, avro);
    if (typeof src === "string") {
      w.rows.transferred++; // one row, as the consumer counts a record it cannot read
      d.rejected.push({ offset: r.offset, reason: src });
      continue;
    }
    w.rows.transferred += src.rows;
    const t = txnOf(d, src);
    const table = `${src.schema}.${src.table}`;
    t.seen[table] = (t.seen[table] ?? 0) + 1;
    t.xid ??= src.xid;
    const tp = `${topic}:${partition}`;
    addOffset((t.offsets[tp] ??= []), offset);
  }
}

/** Adds the tallies topic's records to `d`: each becomes a window delta once the ledger has not seen it. */
export function addTallyRecords(d: BatchDeltas, records: readonly InputRecord[], windowSize: number): void {
  for (const r of records) {
    try {
      const t = decodeTally(r.value);
      if (t.windowSize !== windowSize || t.windowStart % windowSize !== 0) {
        d.rejected.push({
          offset: r.offset,
          reason: `a ${t.stage} tally of ${t.topic}[${t.partition}] with window size ${t.windowSize} at ${t.windowStart}; the counter's tallies.windowSize is ${windowSize} (every service must use the same)`,
        });
        continue;
      }
      d.tallies.push(t);
    } catch (err) {
      d.rejected.push({ offset: r.offset, reason: (err as Error).message });
    }
  }
}

/** The window delta a (new, not yet seen) tally makes. */
export function addTally(d: BatchDeltas, t: Tally): void {
  const w = windowOf(d, t.topic, t.partition, t.windowStart);
  const range: [number, number] = [t.firstOffset, t.lastOffset + 1];
  if (t.stage === "emitted") {
    w.emitted += t.count;
    w.rows.emitted += t.rows ?? t.count;
    if (t.rows === undefined) w.rowsInexact = true;
    w.emittedRanges.push(range);
    return;
  }
  if (t.replay === true) {
    w.replayRecords += t.count;
    w.replayTallies++;
    return;
  }
  w.applied += t.detail?.["applied"] ?? 0;
  w.duplicate += t.detail?.["duplicate"] ?? 0;
  w.quarantined += t.detail?.["quarantined"] ?? 0;
  // Tallies of consumers before 2026-12 count records only: one row each, and the window's rows are not compared.
  if (t.rowDetail === undefined) w.rowsInexact = true;
  const rows = t.rowDetail ?? t.detail;
  w.rows.applied += rows?.["applied"] ?? 0;
  w.rows.duplicate += rows?.["duplicate"] ?? 0;
  w.rows.quarantined += rows?.["quarantined"] ?? 0;
  w.writtenRanges.push(range);
  if (t.after !== undefined && t.after < t.firstOffset) {
    // Passed over for good: may reach back into earlier windows.
    for (const piece of windowPieces(t.after, t.firstOffset, t.windowSize)) {
      windowOf(d, t.topic, t.partition, piece.windowStart).skippedRanges.push([piece.from, piece.to]);
    }
  }
}

/** Adds the manifests topic's records to `d`. */
export function addManifestRecords(d: BatchDeltas, records: readonly InputRecord[]): void {
  for (const r of records) {
    let m: Manifest;
    try {
      m = decodeManifest(r.value);
    } catch (err) {
      d.rejected.push({ offset: r.offset, reason: (err as Error).message });
      continue;
    }
    const t = txnOf(d, m);
    t.manifest = m;
    t.kind = m.kind;
    t.xid = m.xid;
    for (const [tp, bound] of Object.entries(m.bounds ?? {})) d.manifestBounds.set(tp, Math.max(d.manifestBounds.get(tp) ?? 0, bound));
  }
}

/** A multirange literal of half-open ranges, for int8multirange. */
export function multirange(ranges: readonly (readonly [number, number])[]): string {
  return `{${ranges.map(([a, b]) => `[${a},${b})`).join(",")}}`;
}
