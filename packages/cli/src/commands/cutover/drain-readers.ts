// Reads what decideDrain (drain.ts) decides on: the slot, the data topics' ends, the target's
// applied positions and quarantine, and the counter's summary. Each reader names what failed.
import { QUARANTINE, readAppliedPositions, type QuarantineRow } from "@zeroloss/bookkeeping";
import { kafkaError } from "@zeroloss/kafka";
import { query, slotStatus, type Client } from "@zeroloss/pg";
import type { Admin } from "kafkajs";
import { topicNames } from "@zeroloss/wire";
import type { DrainObservation, PartitionEnd, QuarantineSample } from "./drain.js";

export async function readSlot(source: Client, slot: string): Promise<DrainObservation["slot"]> {
  const s = await slotStatus(source, slot);
  return { name: slot, exists: s.exists, confirmedFlushLsn: s.confirmedFlushLsn, walStatus: s.walStatus };
}

/** Every data topic's partitions and their read_committed ends (kafkajs's admin lists the last stable offset). */
export async function readEnds(admin: Admin, topicPrefix: string): Promise<PartitionEnd[]> {
  const pattern = topicNames(topicPrefix).dataPattern;
  try {
    const topics = (await admin.listTopics()).filter((t) => pattern.test(t)).sort();
    const ends: PartitionEnd[] = [];
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsets(topic)) ends.push({ topic, partition: p.partition, end: BigInt(p.offset) });
    }
    return ends.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  } catch (err) {
    throw kafkaError(err, `reading the ends of the data topics of prefix ${topicPrefix}`);
  }
}

/** The consumer's next offset per `topic:partition`; null when the target has no bookkeeping. */
export async function readApplied(target: Client, topicPrefix: string): Promise<Map<string, bigint> | null> {
  const rows = await readAppliedPositions(target, `${topicPrefix}.`);
  if (rows === null) return null;
  return new Map(rows.map((r) => [`${r.topic}:${r.partition}`, BigInt(r.next_offset)]));
}

const SAMPLE = 5;

/** How many records the target's zeroloss.quarantine holds, and the first few of them. */
export async function readQuarantine(target: Client): Promise<DrainObservation["quarantine"]> {
  const [found] = await query<{ t: string | null }>(target, "looking for the consumer's quarantine", "SELECT to_regclass($1)::text AS t", [QUARANTINE.sql]);
  if (found?.t === null || found?.t === undefined) return { count: 0, sample: [] };
  const [count] = await query<{ n: string }>(target, `counting ${QUARANTINE.qualified}`, `SELECT count(*)::text AS n FROM ${QUARANTINE.sql}`);
  const rows = await query<Pick<QuarantineRow, "table_name" | "topic" | "partition" | "offset" | "reason_code" | "reason">>(
    target,
    `reading ${QUARANTINE.qualified}`,
    `SELECT "table_name", "topic", "partition"::text, "offset"::text, "reason_code", "reason" FROM ${QUARANTINE.sql} ORDER BY "id" LIMIT ${SAMPLE}`,
  );
  const sample: QuarantineSample[] = rows.map((r) => ({ table: r.table_name, topic: r.topic, partition: r.partition, offset: r.offset, code: r.reason_code, reason: r.reason }));
  return { count: Number(count?.n ?? "0"), sample };
}
