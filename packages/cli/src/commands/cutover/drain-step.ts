// Step 3 of the cutover: wait until every change up to the fence LSN is applied on the target
// and counted by the counter (drain.ts decides), with a line of progress every few seconds.
// A problem waiting cannot cure (a quarantined record, a difference the counter proved) ends
// it at once; so does the deadline, naming what it still waited for.
import type { CounterRecord } from "@zeroloss/certificate";
import type { Config } from "@zeroloss/config";
import { isZerolossError, ZerolossError } from "@zeroloss/errors";
import type { Client } from "@zeroloss/pg";
import type { Summary } from "@zeroloss/wire";
import type { Admin } from "kafkajs";
import { fetchSummary, type CounterEndpoint } from "../counter-client.js";
import type { ProgressLines } from "../progress-lines.js";
import { decideDrain, sameEnds, slotPassed, type DrainObservation, type PartitionEnd } from "./drain.js";
import { readApplied, readEnds, readQuarantine, readSlot } from "./drain-readers.js";

export interface DrainContext {
  readonly config: Config;
  readonly source: Client;
  readonly target: Client;
  readonly admin: Admin;
  readonly counter: CounterEndpoint;
  readonly fenceLsn: string;
  readonly exact: boolean;
  readonly timeoutMs: number;
  readonly progress: ProgressLines;
  readonly abortIf: () => void;
}

/** Two drained readings at least this far apart, with the same ends: commit markers land after a commit returns. */
const CONFIRM_MS = 1_000;
const INTERVAL_MS = 500;
const PROGRESS_MS = 5_000;

export function counterRecord(s: Summary): CounterRecord {
  const t = s.totals;
  return {
    records: { emitted: t.emitted, transferred: t.transferred, applied: t.applied, duplicate: t.duplicate, quarantined: t.quarantined },
    rows: { ...t.rows },
    windows: { ...s.windows },
    transactions: { ...s.transactions },
  };
}

/**
 * The data partitions' ends once the slot has passed the fence, or null. At a fenced cut they
 * are read again each time (they stop moving once the last commit markers land); in a
 * rehearsal the source moves on, so they are read once, a moment after the slot passed (for
 * the markers), and kept.
 */
class Ends {
  private frozen: PartitionEnd[] | null = null;
  constructor(private readonly c: DrainContext) {}
  async read(passed: boolean): Promise<PartitionEnd[] | null> {
    if (!passed) return null;
    if (this.c.exact) return readEnds(this.c.admin, this.c.config.kafka.topicPrefix);
    if (this.frozen === null) {
      await new Promise((r) => setTimeout(r, CONFIRM_MS));
      this.frozen = await readEnds(this.c.admin, this.c.config.kafka.topicPrefix);
    }
    return this.frozen;
  }
}

async function observe(c: DrainContext, endsOf: Ends): Promise<DrainObservation> {
  const slot = await readSlot(c.source, c.config.source.slot);
  const ends = await endsOf.read(slotPassed(c.fenceLsn, slot));
  const applied = await readApplied(c.target, c.config.kafka.topicPrefix);
  const quarantine = await readQuarantine(c.target);
  let summary: Summary | null = null;
  let counterError: string | null = null;
  try {
    summary = await fetchSummary(c.counter);
  } catch (err) {
    if (!isZerolossError(err)) throw err;
    counterError = err.message;
  }
  return { fenceLsn: c.fenceLsn, slot, ends, applied, summary, counterError, quarantine, exact: c.exact };
}

/** Resolves with the counter's summary once drained; throws CUTOVER_NOT_PROVEN or CUTOVER_DRAIN_TIMEOUT. */
export async function drainStep(c: DrainContext): Promise<{ summary: Summary; at: Date }> {
  const deadline = Date.now() + c.timeoutMs;
  let confirmed: { at: number; ends: readonly PartitionEnd[] | null } | null = null;
  let lastLine = 0;
  const ends = new Ends(c);
  for (;;) {
    c.abortIf();
    let o: DrainObservation;
    try {
      o = await observe(c, ends);
    } catch (err) {
      // A database or Kafka away for a moment: waited for, up to the deadline, like any stage behind.
      if (!isZerolossError(err) || !err.retriable || Date.now() >= deadline) throw err;
      if (Date.now() - lastLine >= PROGRESS_MS) {
        lastLine = Date.now();
        c.progress.line(`  reading the drain's state failed, trying again: [${err.code}] ${err.message}`);
      }
      await new Promise((r) => setTimeout(r, INTERVAL_MS));
      continue;
    }
    const v = decideDrain(o);
    if (v.state === "failed") {
      throw new ZerolossError("CUTOVER_NOT_PROVEN", `the drain to the fence found what no waiting cures: ${v.problems.join("; ")}`, { details: { problems: [...v.problems] } });
    }
    if (v.state === "drained" && o.summary !== null) {
      if (confirmed !== null && Date.now() - confirmed.at >= CONFIRM_MS && sameEnds(confirmed.ends, o.ends)) return { summary: o.summary, at: new Date() };
      if (confirmed === null || !sameEnds(confirmed.ends, o.ends)) confirmed = { at: Date.now(), ends: o.ends };
    } else {
      confirmed = null;
    }
    if (Date.now() >= deadline) {
      throw new ZerolossError("CUTOVER_DRAIN_TIMEOUT", `not drained to the fence ${c.fenceLsn} after ${Math.round(c.timeoutMs / 1000)} s; still waiting for: ${v.waitingFor.join("; ")}`);
    }
    if (Date.now() - lastLine >= PROGRESS_MS && v.waitingFor.length > 0) {
      lastLine = Date.now();
      const more = v.waitingFor.length > 3 ? ` (and ${v.waitingFor.length - 3} more)` : "";
      c.progress.line(`  waiting for ${v.waitingFor.slice(0, 3).join("; ")}${more}`);
    }
    await new Promise((r) => setTimeout(r, INTERVAL_MS));
  }
}
