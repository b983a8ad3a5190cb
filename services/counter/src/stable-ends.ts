// Kafka's committed end (last stable offset) against what the emitted tallies claim: the
// counter probes the partitions whose claims it has not read, and a claim still past the end
// after STABLE_CONFIRM_SECONDS is proven missing (window-states.ts, past_end).
import { query, type Client } from "@zeroloss/pg";
import { SCHEMA } from "./ledger.js";

/** Partitions whose emitted tallies claim offsets the counter has not read: where Kafka's committed end must be probed. */
export async function claimsAhead(db: Client): Promise<{ topic: string; partition: number; claimsTo: bigint }[]> {
  const rows = await query<{ topic: string; partition: string; emitted_to: string }>(
    db,
    "finding tallies that claim offsets the counter has not read",
    `SELECT p.topic, p.partition, p.emitted_to FROM ${SCHEMA}.partitions p LEFT JOIN ${SCHEMA}.positions pos USING (topic, partition)
      WHERE p.emitted_to > COALESCE(pos.next_offset, 0)`,
  );
  return rows.map((r) => ({ topic: r.topic, partition: Number(r.partition), claimsTo: BigInt(r.emitted_to) }));
}

/**
 * Records Kafka's committed end (last stable offset) per partition, probed after the claims up
 * to claimsTo were counted. The claims of the first probe that found the end short of them
 * are kept, with its time, while every later probe still finds the end short of those same
 * claims: under a steady flow the end passes them within moments, and the watch starts over.
 */
export async function recordStableEnds(db: Client, ends: readonly { topic: string; partition: number; claimsTo: bigint; stableEnd: bigint }[]): Promise<void> {
  if (ends.length === 0) return;
  await query(
    db,
    "recording Kafka's committed ends",
    `UPDATE ${SCHEMA}.partitions p SET stable_end = x.stable_end,
         stable_claims_to = CASE WHEN p.stable_short_since IS NOT NULL AND x.stable_end < p.stable_claims_to THEN p.stable_claims_to ELSE x.claims_to END,
         stable_short_since = CASE WHEN p.stable_short_since IS NOT NULL AND x.stable_end < p.stable_claims_to THEN p.stable_short_since
                                   WHEN x.stable_end < x.claims_to THEN now() END
       FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[]) AS x(topic, partition, stable_end, claims_to)
      WHERE p.topic = x.topic AND p.partition = x.partition`,
    [ends.map((e) => e.topic), ends.map((e) => e.partition), ends.map((e) => e.stableEnd.toString()), ends.map((e) => e.claimsTo.toString())],
  );
}
