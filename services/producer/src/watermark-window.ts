// The watermark window of the live snapshot (DBLog; live-snapshot.ts explains the method):
// the tables being snapshotted while streaming and their progress, the chunks read and
// waiting for their watermark to come through the stream, and per table the streamed
// changes newer than its last chunk's floor. It owns the rules that decide a chunk's rows
// where its watermark arrives: a row a transaction the read did not see changed is left out
// (that change is already in the stream, newer than the row); a row carries the newest change
// the read saw above the floor as its LSN; and a truncate after the floor, or an unseen
// update that kept a TOAST value of a row in the chunk's range, has the chunk read again.
//
// The Streamer notes its changes here and hands each watermark over (join, then joined once
// the rows are emitted); LiveSnapshots begins tables and registers chunks.
import { ZerolossError } from "@zeroloss/errors";
import { committedVisibleIn, formatLsn, type Lsn, type TxSnapshot } from "@zeroloss/pg";
import type { SnapshotTableProgress } from "@zeroloss/wire";
import type { RelationSchema } from "./envelopes.js";
import { lineKeys } from "./snapshot-chunk.js";

/** A chunk of a table's live snapshot, read and waiting for its watermark to come through the stream. */
export interface LiveChunk {
  /** The watermark message's content. */
  readonly id: string;
  /** `schema.table` */
  readonly table: string;
  /** null: the table was dropped, and this empty chunk ends its snapshot. */
  readonly rel: RelationSchema | null;
  /** The rows as the snapshot reads them (snapshot-chunk.ts): COPY text lines of the source's checksum, then the values. */
  readonly lines: readonly string[];
  /** Where the key columns are among the values, in the key's own order. */
  readonly keyIndexes: readonly number[];
  /** Below every change the chunk's read did not see: the rows' LSN. */
  readonly floor: Lsn;
  /** The read's transaction snapshot. */
  readonly snapshot: TxSnapshot;
  /** The table's progress once these rows are in Kafka. */
  readonly progress: SnapshotTableProgress;
}

/** What became of a chunk: its rows joined the stream, or it must be read again (why). */
export type ChunkOutcome = { readonly emitted: number } | { readonly retry: string };

/** A change to a table being snapshotted while streaming, kept until a chunk's floor passes it. */
export interface RecentChange {
  readonly key: string;
  readonly xid: number;
  readonly lsn: Lsn;
  /** An update that left a TOAST value unchanged (the target needs the row to apply it). */
  readonly keepsToast: boolean;
  /** Such an update not sent, its row not read yet: its key values, to find the chunk that must bring it. */
  readonly held?: { readonly rel: RelationSchema; readonly key: ReadonlyMap<string, string | null> };
}

/** A registered chunk and how to answer its reader. */
export interface WaitingChunk {
  readonly chunk: LiveChunk;
  readonly resolve: (o: ChunkOutcome) => void;
  readonly fail: (e: unknown) => void;
}

/** A chunk's rows (its lines) to emit, each with the LSN it carries; or why the chunk is read again. */
export type ChunkRows = { readonly rows: readonly { readonly line: string; readonly lsn: Lsn }[] } | { readonly retry: string };

/** Whether a row's key sorts after `after` in its table's key order; `unknown` when that cannot be told (the table's key is no longer the one its snapshot pages by): the side that cannot lose the change. */
export type KeyAfter = (rel: RelationSchema, key: ReadonlyMap<string, string | null>, after: readonly (string | null)[], unknown: boolean) => Promise<boolean>;

export class WatermarkWindow {
  /** Live snapshots in progress, by table: written into every checkpoint. */
  private readonly live = new Map<string, SnapshotTableProgress>();
  /** Tables whose last chunk joined the stream: in the next checkpoint once more, done (their final rows). */
  private readonly finished = new Map<string, SnapshotTableProgress>();
  /** Chunks read and registered, by watermark id. */
  private readonly chunks = new Map<string, WaitingChunk>();
  /** Per table, the LSN of the last truncate streamed (a chunk read before it is read again). */
  private readonly truncatedAt = new Map<string, Lsn>();
  /** Per table: its changes newer than its last chunk's floor. */
  private readonly recent = new Map<string, RecentChange[]>();
  /** Why chunks are refused: the stream is not running (null while it is). */
  private closed: ZerolossError | null = new ZerolossError("STREAM_STOPPED", "the stream has not started");

  /** `live`: the tables being snapshotted, as the checkpoint left them. */
  constructor(
    live: readonly SnapshotTableProgress[],
    private readonly keyAfter: KeyAfter,
  ) {
    for (const p of live) if (!p.done) this.live.set(p.table, p);
  }

  /** Tables being snapshotted alongside the stream, and their progress as last emitted. */
  get tables(): ReadonlyMap<string, SnapshotTableProgress> {
    return this.live;
  }

  /** A table starts its live snapshot: it joins the checkpoints from the next Kafka commit on. False when it is being snapshotted already. */
  begin(table: string): boolean {
    if (this.live.has(table)) return false;
    this.finished.delete(table);
    this.live.set(table, { table, done: false, lastKey: null, rows: 0 });
    return true;
  }

  /** The progress a checkpoint carries: the tables being snapshotted, and once each table whose snapshot ended since the last one. */
  forCheckpoint(): SnapshotTableProgress[] {
    const list = [...this.live.values(), ...this.finished.values()];
    this.finished.clear();
    return list;
  }

  /** The stream runs: chunks are taken. */
  open(): void {
    this.closed = null;
  }

  /** The stream ended: every chunk waiting fails with `e`, and new ones are refused. */
  close(e: ZerolossError): void {
    this.closed = e;
    for (const { fail } of this.chunks.values()) fail(e);
    this.chunks.clear();
  }

  /**
   * Registers a chunk read by the live snapshot; it joins the stream when its watermark
   * message arrives. Resolves with what became of it; rejects when the stream ends first.
   */
  expect(chunk: LiveChunk): Promise<ChunkOutcome> {
    return new Promise<ChunkOutcome>((resolve, fail) => {
      if (this.closed !== null) {
        fail(new ZerolossError("STREAM_STOPPED", `the stream ended before chunk ${chunk.id} of ${chunk.table} could join it`, { cause: this.closed }));
        return;
      }
      this.chunks.set(chunk.id, { chunk, resolve, fail });
    });
  }

  /** A registered chunk whose read failed: its watermark will not come. */
  forget(id: string): void {
    this.chunks.delete(id);
  }

  /** The chunk a watermark brings, when this run registered it (an earlier run's is read again after the restart). */
  take(id: string): WaitingChunk | undefined {
    const w = this.chunks.get(id);
    this.chunks.delete(id);
    return w;
  }

  /** A streamed change: kept for the chunks of its table, when it is being snapshotted. */
  note(table: string, change: RecentChange): void {
    if (!this.live.has(table)) return;
    const recent = this.recent.get(table) ?? [];
    recent.push(change);
    this.recent.set(table, recent);
  }

  /** A streamed truncate: a chunk of the table read before it is read again. */
  noteTruncate(table: string, lsn: Lsn): void {
    if (this.live.has(table)) this.truncatedAt.set(table, lsn);
  }

  /** For a table being snapshotted: the row's key, and whether it is past the rows its chunks have brought so far (null: not being snapshotted). */
  notYetRead(rel: RelationSchema, tuple: readonly unknown[]): { values: ReadonlyMap<string, string | null>; past: Promise<boolean> } | null {
    const progress = this.live.get(rel.qualified);
    if (progress === undefined) return null;
    const values = new Map(rel.keyIndexes.map((i) => [rel.names[i] as string, tuple[i] as string | null]));
    return { values, past: progress.lastKey === null ? Promise.resolve(true) : this.keyAfter(rel, values, progress.lastKey, false) };
  }

  /**
   * The rows of a chunk whose watermark arrived, or why it is read again. A row carries as LSN
   * the chunk's floor, below every change the read did not see, or the LSN of the newest change
   * to it the read saw, if later: the target takes every change the read did not see over the
   * row, and the row over every change it contains. A row that a transaction the read did not
   * see changed before the watermark is left out: that change is already in the stream, newer
   * than the row. Two cases need the chunk read again instead: a truncate after the floor (the
   * target would drop the rows as older than it), and an update that left a TOAST value
   * unchanged, not seen by the read, of a row in the chunk's key range (it was either held
   * back as not read yet, or the target could not apply it without the row: the row must come
   * with the change in it). On rows, the changes at or below the floor are dropped (the next
   * chunk's read sees them); call joined() once the rows are emitted.
   */
  async join(chunk: LiveChunk): Promise<ChunkRows> {
    const truncated = this.truncatedAt.get(chunk.table);
    if (truncated !== undefined && truncated > chunk.floor) return { retry: `a truncate at ${formatLsn(truncated)} came after the read` };
    const recent = (this.recent.get(chunk.table) ?? []).filter((c) => c.lsn > chunk.floor);
    const unseen = new Map<string, RecentChange>();
    const seenAt = new Map<string, Lsn>(); // per key, the newest change the read saw
    for (const c of recent) {
      if (!committedVisibleIn(chunk.snapshot, c.xid)) unseen.set(c.key, c);
      else if ((seenAt.get(c.key) ?? 0n) < c.lsn) seenAt.set(c.key, c.lsn);
    }
    const rel = chunk.rel;
    const keyOf = rel === null ? null : lineKeys(rel, chunk.keyIndexes);
    const keyed = keyOf === null ? [] : chunk.lines.map((line) => ({ line, key: keyOf(line) }));
    const keys = new Set(keyed.map((r) => r.key));
    for (const c of unseen.values()) {
      if (!c.keepsToast) continue;
      // Sent (its row was read before): only a row of this chunk could bring an older state.
      // Held: up to the chunk's last key (or anywhere, for the last chunk) no later chunk reads the row.
      const inRange =
        c.held === undefined ? keys.has(c.key) : chunk.progress.done || chunk.progress.lastKey === null || !(await this.keyAfter(c.held.rel, c.held.key, chunk.progress.lastKey, false));
      if (inRange) return { retry: `row ${c.key} was updated at ${formatLsn(c.lsn)}, leaving a TOAST value unchanged, by a transaction the read did not see` };
    }
    this.recent.set(chunk.table, recent);
    const rows = keyed
      .filter((r) => !unseen.has(r.key))
      .map((r) => {
        const seen = seenAt.get(r.key);
        return { line: r.line, lsn: seen !== undefined && seen > chunk.floor ? seen : chunk.floor };
      });
    return { rows };
  }

  /** The chunk's rows are emitted: its progress goes into the next checkpoint (a done table leaves the window, and is reported done once). */
  joined(chunk: LiveChunk): void {
    if (chunk.progress.done) {
      this.live.delete(chunk.table);
      this.recent.delete(chunk.table);
      this.truncatedAt.delete(chunk.table);
      this.finished.set(chunk.table, chunk.progress);
    } else {
      this.live.set(chunk.table, chunk.progress);
    }
  }
}
