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
import { readAppliedPositions } from "@zeroloss/bookkeeping";
import { parseLsn, query } from "@zeroloss/pg";
import { keyId, sourcePosition, type RowState, type Sides } from "./compare.js";
import { keyOf, rowsByKey, type SideTable } from "./sql.js";

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

/** The consumer's applied positions as one string, to tell whether they moved; null without the consumer's bookkeeping. */
async function appliedPositions(target: pg.Client, prefix: string): Promise<string | null> {
  const rows = await readAppliedPositions(target, prefix);
  return rows === null ? null : rows.map((r) => `${r.topic}:${r.partition}:${r.next_offset}`).join(",");
}

/**
 * Watches whether the target has caught up with a source position: polled between re-reads,
 * so the quiet time accumulates while the differing rows are read again.
 */
export class CatchUpWatch {
  private slot: string | null | undefined;
  private positions: string | null | undefined;
  private changedAt = Date.now();
  private readonly passedAt = new Map<string, number>();

  constructor(
    private readonly sides: Sides,
    private readonly o: SettleOptions,
  ) {}

  async poll(): Promise<void> {
    this.slot = await slotPosition(this.sides.source, this.o.slot);
    const now = await appliedPositions(this.sides.target, this.o.topicPrefix);
    if (this.positions !== undefined && now !== this.positions) this.changedAt = Date.now();
    this.positions = now;
  }

  /** After poll(): has everything the source had at `lsn` been applied to the target? */
  caughtUp(lsn: string): boolean {
    if (this.slot !== undefined && (this.slot === null || parseLsn(this.slot) < parseLsn(lsn))) return false;
    if (this.positions === null) return true; // no consumer bookkeeping: nothing to wait for
    const passed = this.passedAt.get(lsn) ?? Date.now();
    this.passedAt.set(lsn, passed);
    return Date.now() - Math.max(this.changedAt, passed) >= this.o.quietMs;
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
    const hashes = (rows: Record<string, string | null>[]) => new Map(rows.map((r) => [keyId(keyOf(source, r)), r["h"]!]));
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
  /** When both sides first showed these values. */
  since: number;
  /** The source position after the read that first showed them. */
  readAt: string;
}

export async function settle(sides: Sides, table: string, source: SideTable, target: SideTable, differing: Iterable<RowState>, readAt: string, o: SettleOptions): Promise<Settled> {
  const started = Date.now();
  const deadline = started + (2 * o.settleSeconds * 1000 + o.quietMs);
  const open = new Map<string, Tracked>();
  for (const d of differing) open.set(keyId(d.key), { state: d, since: started, readAt });
  const initial = open.size;
  const confirmed: RowState[] = [];
  const watch = new CatchUpWatch(sides, o);
  let delay = 100;

  while (open.size > 0) {
    await pause(delay);
    delay = Math.min(2 * delay, 2_000);
    await watch.poll();
    const now = await readKeys(sides, table, source, target, [...open.values()].map((t) => t.state));
    const lsn = await sourcePosition(sides.source);
    const at = Date.now();
    for (const [id, tracked] of open) {
      const fresh = now.get(id)!;
      if (fresh.source === fresh.target) {
        open.delete(id);
      } else if (fresh.source !== tracked.state.source || fresh.target !== tracked.state.target) {
        open.set(id, { state: fresh, since: at, readAt: lsn });
      } else if (watch.caughtUp(tracked.readAt) || at - tracked.since >= o.settleSeconds * 1000) {
        confirmed.push(fresh);
        open.delete(id);
      }
    }
    if (Date.now() >= deadline || o.stopped?.() === true) break;
  }
  const unsettled = [...open.values()].map((t) => t.state);
  const resolved = initial - confirmed.length - unsettled.length;
  if (resolved > 0) o.log.debug({ table, resolved }, "differences that were changes in flight");
  return { confirmed, unsettled, resolved };
}
