// The drain of a cutover, decided: given what the source's slot, Kafka, the target's
// bookkeeping and the counter say now, is every change up to the fence LSN applied on the
// target and counted? Pure, so every case has a unit test (drain.test.ts); drain-readers.ts
// reads the inputs.
//
// Why the partition ends work as a boundary: once the slot's confirmed flush LSN has passed
// the fence, the producer has committed every change up to the fence to Kafka (DESIGN.md,
// invariant 1), so every record of it lies below the partitions' last stable offsets read
// after that moment. Each Kafka transaction ends with a commit marker after its records; at a
// fenced cut both of the producer's transaction lanes fall idle, so the offset just below the
// end is a marker, and a reader whose next offset is at least end − 1 has read every record
// below the end (the consumer and the counter do not move their positions past a fetch that
// held only markers). Markers are written after the commit returns: the caller counts a drain
// only when two readings a second apart agree (the same ends, drained both times), and the
// whole ledger must balance besides. In a rehearsal the next transaction may be open while the
// last one's marker lands, so end − 1 can be that transaction's record and the drain be called
// a moment early: the rehearsal's verifier settles what is still in flight, and nothing is
// signed. (A fetch cut short by its byte limit between the last record and the markers would
// leave a reader at end − 2 for good: the drain then times out, naming the partition; it
// never passes early.)
import type { Summary } from "@zeroloss/wire";
import { parseLsn } from "@zeroloss/pg";

export interface PartitionEnd {
  readonly topic: string;
  readonly partition: number;
  /** The last stable offset (read_committed end). */
  readonly end: bigint;
}

export interface QuarantineSample {
  readonly table: string | null;
  readonly topic: string;
  readonly partition: string;
  readonly offset: string;
  readonly code: string;
  readonly reason: string;
}

export interface DrainObservation {
  readonly fenceLsn: string;
  readonly slot: { readonly name: string; readonly exists: boolean; readonly confirmedFlushLsn: string | null; readonly walStatus: string | null };
  /** The data partitions' ends, read once the slot had passed the fence; null before. */
  readonly ends: readonly PartitionEnd[] | null;
  /** The consumer's next offset per `topic:partition` (zeroloss.applied_positions); null: the target has no bookkeeping yet. */
  readonly applied: ReadonlyMap<string, bigint> | null;
  /** The counter's summary; null when it could not be read (counterError says why). */
  readonly summary: Summary | null;
  readonly counterError: string | null;
  readonly quarantine: { readonly count: number; readonly sample: readonly QuarantineSample[] };
  /**
   * true at a fenced cut: nothing moves after the fence, so the whole ledger must balance;
   * false in a rehearsal: the source moves on, so only the partitions up to their ends are asked of.
   */
  readonly exact: boolean;
}

export interface DrainVerdict {
  /** drained: everything up to the fence applied and counted; failed: a problem that waiting cannot cure. */
  readonly state: "drained" | "waiting" | "failed";
  /** What is not there yet, each naming the stage and its position. */
  readonly waitingFor: readonly string[];
  /** Why it cannot be proven, each naming the table, offset or count. */
  readonly problems: readonly string[];
}

const key = (topic: string, partition: number) => `${topic}[${partition}]`;

function quarantineProblem(q: DrainObservation["quarantine"]): string[] {
  if (q.count === 0) return [];
  const shown = q.sample.map((s) => `${s.table ?? "(table unknown)"} at ${s.topic}[${s.partition}] offset ${s.offset}: ${s.code}: ${s.reason}`);
  const more = q.count > q.sample.length ? `; and ${q.count - q.sample.length} more` : "";
  return [`${q.count} record(s) quarantined in the target's zeroloss.quarantine, never applied: ${shown.join("; ")}${more}`];
}

function counterProblems(s: Summary): string[] {
  const out: string[] = [];
  if (s.windows.mismatch > 0) out.push(`the counter proved a difference in ${s.windows.mismatch} window(s) (zeroloss status names their offsets)`);
  if (s.totals.quarantined > 0 || s.windows.attention > 0) out.push(`the counter's ledger holds ${s.totals.quarantined} quarantined record(s) (${s.windows.attention} window(s) in attention)`);
  if (s.transactions.incomplete > 0) out.push(`the counter proved ${s.transactions.incomplete} source transaction(s) incomplete in Kafka`);
  for (const p of s.problems ?? []) out.push(`the counter: ${p}`);
  return out;
}

function counterWaiting(s: Summary, exact: boolean): string[] {
  if (!exact) return [];
  const out: string[] = [];
  const t = s.totals;
  const written = t.applied + t.duplicate + t.quarantined;
  if (t.transferred !== t.emitted || written !== t.emitted) {
    out.push(`the counter: records emitted ${t.emitted}, found in Kafka ${t.transferred}, written ${written}`);
  }
  // Rows are compared per window (behind, mismatch), where the counter knows which windows
  // count rows exactly: windows of tallies from before 2026-12 count a bulk record as one row.
  if (s.windows.behind > 0) out.push(`the counter: ${s.windows.behind} window(s) behind`);
  if (s.transactions.pending > 0) out.push(`the counter: ${s.transactions.pending} source transaction(s) pending`);
  if (s.transactions.complete > 0) out.push(`the counter: ${s.transactions.complete} source transaction(s) in Kafka but not yet applied`);
  for (const p of s.partitions) {
    if (p.kafkaLag > 0 || p.targetLag > 0) out.push(`the counter: ${key(p.topic, p.partition)} Kafka lag ${p.kafkaLag}, target lag ${p.targetLag}`);
  }
  return out;
}

/** The producer has committed every change up to the fence to Kafka: the slot's confirmed position is at or past it. */
export function slotPassed(fenceLsn: string, slot: DrainObservation["slot"]): boolean {
  return slot.exists && slot.confirmedFlushLsn !== null && parseLsn(slot.confirmedFlushLsn) >= parseLsn(fenceLsn);
}

export function decideDrain(o: DrainObservation): DrainVerdict {
  const problems: string[] = [];
  const waitingFor: string[] = [];
  if (!o.slot.exists) problems.push(`the replication slot ${o.slot.name} does not exist: the changes up to the fence cannot be shown to have left the source`);
  else if (o.slot.walStatus === "lost") problems.push(`the replication slot ${o.slot.name} is lost (wal_status lost): changes were removed before the producer read them`);
  problems.push(...quarantineProblem(o.quarantine));
  if (o.summary !== null) problems.push(...counterProblems(o.summary));
  if (problems.length > 0) return { state: "failed", waitingFor, problems };

  const confirmed = o.slot.confirmedFlushLsn;
  if (!slotPassed(o.fenceLsn, o.slot)) {
    const behind = confirmed === null ? "" : ` (${(parseLsn(o.fenceLsn) - parseLsn(confirmed)).toString()} bytes to go)`;
    waitingFor.push(`the producer: slot ${o.slot.name} confirmed up to ${confirmed ?? "nothing"}, the fence is at ${o.fenceLsn}${behind}`);
  }
  if (o.ends === null) {
    if (waitingFor.length === 0) waitingFor.push("the data topics' ends, read once the slot has passed the fence");
  } else {
    const counted = new Map((o.summary?.partitions ?? []).map((p) => [key(p.topic, p.partition), BigInt(p.readTo)]));
    for (const e of o.ends) {
      if (e.end === 0n) continue;
      const k = key(e.topic, e.partition);
      const last = e.end - 1n;
      const applied = o.applied?.get(`${e.topic}:${e.partition}`) ?? 0n;
      if (applied < last) waitingFor.push(`the consumer: ${k} applied up to offset ${applied}, the fence's records end at ${e.end}`);
      if (o.summary !== null) {
        const read = counted.get(k) ?? 0n;
        if (read < last) waitingFor.push(`the counter: ${k} read up to offset ${read}, the fence's records end at ${e.end}`);
      }
    }
  }
  if (o.summary === null) waitingFor.push(`the counter: ${o.counterError ?? "not read"}`);
  else waitingFor.push(...counterWaiting(o.summary, o.exact));
  return { state: waitingFor.length === 0 ? "drained" : "waiting", waitingFor, problems };
}

/** Two observations' ends are the same partitions at the same offsets. */
export function sameEnds(a: readonly PartitionEnd[] | null, b: readonly PartitionEnd[] | null): boolean {
  if (a === null || b === null || a.length !== b.length) return false;
  const m = new Map(a.map((e) => [key(e.topic, e.partition), e.end]));
  return b.every((e) => m.get(key(e.topic, e.partition)) === e.end);
}
