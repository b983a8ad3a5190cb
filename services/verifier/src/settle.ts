// Changes in flight are not drift. A key found differing is read again on both sides until
// its rows agree (the change arrived) or the difference is proven to stay:
//   - the target has caught up with the source position of a read: the slot's confirmed
//     flush LSN passed it (everything up to it is in Kafka) and the consumer's applied
//     positions then stood still for `quietMs` (nothing left to apply), and the source row
//     is the same as at the read before: the target should hold it, and does not; or
//   - both sides kept the same differing values for `settleSeconds` while the pipeline
//     never went quiet (a steady workload).
// Without a slot or the consumer's bookkeeping (a finished migration, a copy made by other
// means) the target counts as caught up at once.
import type pg from "pg";
import type { Logger } from "pino";
import { parseLsn, query } from "@zeroloss/pg";
import { keyId, sourcePosition, type RowState, type Sides } from "./compare.js";
import { rowsByKey, type SideTable } from "./sql.js";

export interface SettleOptions {
  readonly settleSeconds: number;
  readonly quietMs: number;
  /** The producer's replication slot (source.slot). */
  readonly slot: string;
  /** Only the applied positions of these topics count (kafka.topicPrefix + "."). */
  readonly topicPrefix: string;
  readonly log: Logger;
  /** Stops waiting early (the process is stopping). */
  readonly stopped?: () => boolean;
}

export interface Settled {
  /** Differences proven to stay. */
  readonly confirmed: RowState[];
  /** Differences whose rows kept changing until the time ran out. */
  readonly unsettled: RowState[];
  /** Differences that went away: changes that were in flight. */
  readonly resolved: number;
}

const BATCH = 500;
const POLL_MS = 250;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function slotPosition(source: pg.Client, slot: string): Promise<string | null | undefined> {
  const rows = await query<{ lsn: string | null }>(
    source,
    `reading the confirmed position of slot ${slot}`,
    "SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1",
    [slot],
  );
  return rows.length === 0 ? undefined : rows[0]!.lsn;
}

async function appliedPositions(target: pg.Client, prefix: string): Promise<string | null> {
  const [exists] = await query<{ t: string | null }>(target, "looking for the consumer's bookkeeping", "SELECT to_regclass('zeroloss.applied_positions')::text AS t");
  if (exists?.t === null || exists === undefined) return null;
  const [row] = await query<{ p: string | null }>(
    target,
    "reading the consumer's applied positions",
    "SELECT string_agg(topic || ':' || partition || ':' || next_offset, ',' ORDER BY topic, partition) AS p FROM zeroloss.applied_positions WHERE starts_with(topic, $1)",
    [prefix],
  );
  return row?.p ?? "";
}

/** Waits (at most `budgetMs`) until the target has applied everything the source had at `lsn`. */
export async function caughtUp(sides: Sides, lsn: string, budgetMs: number, o: SettleOptions): Promise<boolean> {
  const until = Date.now() + budgetMs;
  for (;;) {
    const slot = await slotPosition(sides.source, o.slot);
    if (slot === undefined || (slot !== null && parseLsn(slot) >= parseLsn(lsn))) break;
    if (Date.now() >= until || o.stopped?.() === true) return false;
    await pause(POLL_MS);
  }
  let last = await appliedPositions(sides.target, o.topicPrefix);
  if (last === null) return true;
  let stillSince = Date.now();
  for (;;) {
    if (Date.now() - stillSince >= o.quietMs) return true;
    if (Date.now() >= until || o.stopped?.() === true) return false;
    await pause(Math.min(POLL_MS, Math.max(1, o.quietMs)));
    const now = await appliedPositions(sides.target, o.topicPrefix);
    if (now !== last) {
      last = now;
      stillSince = Date.now();
    }
  }
}

async function readKeys(sides: Sides, table: string, source: SideTable, target: SideTable, keys: RowState[]): Promise<Map<string, RowState>> {
  const out = new Map<string, RowState>();
  for (let i = 0; i < keys.length; i += BATCH) {
    const batch = keys.slice(i, i + BATCH).map((k) => k.key);
    const s = rowsByKey(source, batch);
    const t = rowsByKey(target, batch);
    const [sr, tr] = await Promise.all([
      query(sides.source, `re-reading rows of ${table} in the source`, s.sql, s.params),
      query(sides.target, `re-reading rows of ${table} in the target`, t.sql, t.params),
    ]);
    const hashes = (rows: Record<string, string | null>[]) => new Map(rows.map((r) => [keyId(source.key.map((_, j) => r[`k${j}`]!)), r["h"]!]));
    const sh = hashes(sr);
    const th = hashes(tr);
    for (const key of batch) {
      const id = keyId(key);
      out.set(id, { key, source: sh.get(id) ?? null, target: th.get(id) ?? null });
    }
  }
  return out;
}

interface Tracked {
  state: RowState;
  /** When both sides last showed these values for the first time. */
  since: number;
}

export async function settle(sides: Sides, table: string, source: SideTable, target: SideTable, differing: Iterable<RowState>, readAt: string, o: SettleOptions): Promise<Settled> {
  const started = Date.now();
  const deadline = started + (2 * o.settleSeconds * 1000 + o.quietMs);
  const open = new Map<string, Tracked>();
  for (const d of differing) open.set(keyId(d.key), { state: d, since: started });
  const initial = open.size;
  const confirmed: RowState[] = [];
  let lsn = readAt;

  while (open.size > 0) {
    const left = deadline - Date.now();
    const caught = await caughtUp(sides, lsn, Math.max(0, Math.min(left, 5_000)), o);
    lsn = await sourcePosition(sides.source);
    const now = await readKeys(sides, table, source, target, [...open.values()].map((t) => t.state));
    const at = Date.now();
    for (const [id, tracked] of open) {
      const fresh = now.get(id)!;
      if (fresh.source === fresh.target) {
        open.delete(id);
        continue;
      }
      const same = fresh.source === tracked.state.source && fresh.target === tracked.state.target;
      if (!same) {
        open.set(id, { state: fresh, since: at });
        continue;
      }
      if (caught || at - tracked.since >= o.settleSeconds * 1000) {
        confirmed.push(fresh);
        open.delete(id);
      }
    }
    if (open.size > 0 && (Date.now() >= deadline || o.stopped?.() === true)) break;
    if (open.size > 0 && !caught) await pause(POLL_MS);
  }
  const unsettled = [...open.values()].map((t) => t.state);
  const resolved = initial - confirmed.length - unsettled.length;
  if (resolved > 0) o.log.debug({ table, resolved }, "differences that were changes in flight");
  return { confirmed, unsettled, resolved };
}
