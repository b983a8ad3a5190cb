// Explicit topic creation (DESIGN.md: never auto-creation): partitions, replication factor
// and min.insync.replicas as configured, then a wait until every partition has a leader and
// enough in-sync replicas: all of them for a topic just created (the first writes must not
// race the replica assignment), min.insync.replicas for one that exists (a broker may be
// down: the cluster still takes writes, and the producer must be able to start).
import { pollUntil, ZerolossError } from "@zeroloss/errors";
import type { Admin } from "kafkajs";
import type { Logger } from "pino";
import { kafkaError } from "./client.js";

export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly configs?: Readonly<Record<string, string>>;
}

/** Creates the topics that are missing; returns each topic's partition count (existing topics keep theirs). */
export async function ensureTopics(admin: Admin, specs: readonly TopicSpec[], log: Logger): Promise<Map<string, number>> {
  let existing: string[];
  try {
    existing = await admin.listTopics();
  } catch (err) {
    throw kafkaError(err, "listing Kafka topics");
  }
  const missing = specs.filter((s) => !existing.includes(s.topic));
  if (missing.length > 0) {
    try {
      await admin.createTopics({
        // Not kafkajs's waitForLeaders: it gives up when one broker's metadata lags a few
        // milliseconds (UNKNOWN_TOPIC_OR_PARTITION). The poll below waits for full ISR instead.
        waitForLeaders: false,
        topics: missing.map((s) => ({
          topic: s.topic,
          numPartitions: s.partitions,
          replicationFactor: s.replicationFactor,
          configEntries: Object.entries(s.configs ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
    } catch (err) {
      const e = err as { type?: string };
      // Another process created it between list and create: that is fine.
      if (e.type !== "TOPIC_ALREADY_EXISTS") throw kafkaError(err, `creating topics ${missing.map((s) => s.topic).join(", ")}`);
    }
    for (const s of missing) log.info({ topic: s.topic, partitions: s.partitions, replicationFactor: s.replicationFactor, configs: s.configs }, "created topic");
  }
  const counts = new Map<string, number>();
  for (const s of specs) {
    const created = missing.includes(s);
    const minIsr = Number(s.configs?.["min.insync.replicas"] ?? "1");
    const needed = (replicas: number) => Math.min(created ? s.replicationFactor : minIsr, replicas);
    const partitions = await pollUntil(
      async () => {
        const metadata = await admin.fetchTopicMetadata({ topics: [s.topic] });
        const parts = metadata.topics[0]?.partitions ?? [];
        const ready = parts.length > 0 && parts.every((p) => p.leader >= 0 && p.isr.length >= needed(p.replicas.length));
        if (!ready) return undefined;
        // A leader named in the metadata can answer NOT_LEADER_OR_FOLLOWER for a moment
        // after a topic is created; ListOffsets is answered only by the acting leader.
        await admin.fetchTopicOffsets(s.topic);
        return parts.length;
      },
      { timeoutMs: 60_000, what: `topic ${s.topic} to have a leader and ${created ? "all its replicas" : `${minIsr} in-sync replica(s)`} on every partition` },
    ).catch((err: unknown) => {
      throw new ZerolossError("KAFKA_TOPIC_NOT_READY", `topic ${s.topic} is not ready: ${(err as Error).message}`, { cause: err });
    });
    if (partitions !== s.partitions && !missing.includes(s)) {
      log.warn({ topic: s.topic, partitions, configured: s.partitions }, "topic exists with a different partition count; using it as it is");
    }
    counts.set(s.topic, partitions);
  }
  return counts;
}
