// One pass over one table: each database hashes the same key ranges on its own server; a
// range whose count or hash differs is split (at the keys of its bigger side) until it is
// small enough to list, and the listed rows are matched by key. What comes out is the set
// of keys whose rows differ, with each side's checksum (null: no such row).
import type pg from "pg";
import { query } from "@zeroloss/pg";
import { WHOLE_TABLE, keyOf, rangeHash, rangeRows, splitPoints, type KeyRange, type KeyValues, type SideTable, type Statement } from "./sql.js";

export interface Sides {
  readonly source: pg.Client;
  readonly target: pg.Client;
}

/** A key whose rows differ: each side's checksum, null where the side has no row. */
export interface RowState {
  readonly key: KeyValues;
  readonly source: string | null;
  readonly target: string | null;
}

export interface CompareOptions {
  readonly leafRows: number;
  readonly fanout: number;
  readonly chunkRows: number;
  /** Called as ranges are done, with the rows (the larger side's count) they held. */
  readonly onRows?: (rows: number) => void;
}

export interface PassOutcome {
  readonly sourceRows: number;
  readonly targetRows: number;
  /** Keyed by keyId(). */
  readonly differing: Map<string, RowState>;
  /** The source's WAL position after its last read: the target must have applied up to here. */
  readonly sourceLsn: string;
  /** Hash queries run (both sides count as one), ranges listed row by row. */
  readonly rangesHashed: number;
  readonly rangesListed: number;
}

export const keyId = (key: KeyValues): string => JSON.stringify(key);

interface Hash {
  readonly n: number;
  readonly a: string;
  readonly b: string;
}

async function run<R extends Record<string, string | null>>(client: pg.Client, what: string, s: Statement): Promise<R[]> {
  return query<R>(client, what, s.sql, s.params);
}

export async function sourcePosition(source: pg.Client): Promise<string> {
  const [row] = await query<{ lsn: string }>(source, "reading the source's WAL position", "SELECT pg_current_wal_lsn()::text AS lsn");
  return row!.lsn;
}

export async function comparePass(sides: Sides, table: string, source: SideTable, target: SideTable, estimatedRows: number | null, o: CompareOptions): Promise<PassOutcome> {
  const differing = new Map<string, RowState>();
  let sourceRows = 0;
  let targetRows = 0;
  let rangesHashed = 0;
  let rangesListed = 0;

  const hash = async (range: KeyRange): Promise<[Hash, Hash]> => {
    rangesHashed++;
    const [s, t] = await Promise.all([
      run<{ n: string; a: string; b: string }>(sides.source, `hashing ${table} in the source`, rangeHash(source, range)),
      run<{ n: string; a: string; b: string }>(sides.target, `hashing ${table} in the target`, rangeHash(target, range)),
    ]);
    const h = (r: { n: string; a: string; b: string } | undefined): Hash => ({ n: Number(r!.n), a: r!.a, b: r!.b });
    return [h(s[0]), h(t[0])];
  };

  const split = async (side: SideTable, sideName: string, range: KeyRange, step: number): Promise<KeyRange[]> => {
    const client = side === source ? sides.source : sides.target;
    const rows = await run(client, `splitting a key range of ${table} in the ${sideName}`, splitPoints(side, range, step));
    const points: KeyValues[] = rows.map((r) => keyOf(side, r));
    const bounds: (KeyValues | null)[] = [range.lo, ...points, range.hi];
    return points.length === 0 ? [range] : bounds.slice(0, -1).map((lo, i) => ({ lo, hi: bounds[i + 1]! }));
  };

  // Two listings of the same key merge: with different collations a text key can fall into
  // different ranges on the two servers.
  const note = (key: KeyValues, sideName: "source" | "target", h: string) => {
    const id = keyId(key);
    const prev = differing.get(id) ?? { key, source: null, target: null };
    const next = { ...prev, [sideName]: h };
    if (next.source !== null && next.source === next.target) differing.delete(id);
    else differing.set(id, next);
  };

  const list = async (range: KeyRange) => {
    rangesListed++;
    const [s, t] = await Promise.all([
      run(sides.source, `listing rows of ${table} in the source`, rangeRows(source, range)),
      run(sides.target, `listing rows of ${table} in the target`, rangeRows(target, range)),
    ]);
    const byKey = (rows: Record<string, string | null>[]) => new Map(rows.map((r) => [keyId(keyOf(source, r)), r]));
    const sm = byKey(s);
    const tm = byKey(t);
    for (const [id, r] of sm) {
      const other = tm.get(id);
      if (other?.["h"] === r["h"]) continue;
      note(JSON.parse(id) as string[], "source", r["h"]!);
    }
    for (const [id, r] of tm) {
      if (sm.get(id)?.["h"] === r["h"]) continue;
      note(JSON.parse(id) as string[], "target", r["h"]!);
    }
  };

  const bisect = async (range: KeyRange, hs: Hash, ht: Hash): Promise<void> => {
    const n = Math.max(hs.n, ht.n);
    if (n <= o.leafRows) return list(range);
    const bigger = hs.n >= ht.n ? ([source, "source"] as const) : ([target, "target"] as const);
    const parts = await split(bigger[0], bigger[1], range, Math.ceil(n / o.fanout));
    if (parts.length === 1) return list(range);
    for (const part of parts) {
      const [ps, pt] = await hash(part);
      if (ps.n !== pt.n || ps.a !== pt.a || ps.b !== pt.b) await bisect(part, ps, pt);
    }
  };

  const chunks = estimatedRows !== null && estimatedRows > o.chunkRows ? await split(source, "source", WHOLE_TABLE, o.chunkRows) : [WHOLE_TABLE];
  for (const chunk of chunks) {
    const [hs, ht] = await hash(chunk);
    sourceRows += hs.n;
    targetRows += ht.n;
    if (hs.n !== ht.n || hs.a !== ht.a || hs.b !== ht.b) await bisect(chunk, hs, ht);
    o.onRows?.(Math.max(hs.n, ht.n));
  }
  return { sourceRows, targetRows, differing, sourceLsn: await sourcePosition(sides.source), rangesHashed, rangesListed };
}
