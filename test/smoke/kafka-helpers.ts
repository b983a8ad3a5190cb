// Shared by the Kafka smoke tests: produce with acks=all, read back with a consumer group.
import { Kafka, logLevel, type Admin } from "kafkajs";
import { pollUntil } from "@zeroloss/devstack";

export function kafkaClient(brokers: readonly string[], clientId: string): Kafka {
  // kafkajs logs retriable coordinator errors at ERROR while a fresh cluster elects; assertions report real failures.
  return new Kafka({ clientId, brokers: [...brokers], logLevel: logLevel.NOTHING });
}

export async function createTopic(admin: Admin, topic: string, partitions: number, replicationFactor: number, configs: Record<string, string> = {}): Promise<void> {
  // Not kafkajs's waitForLeaders: it gives up when a broker whose metadata lags a few
  // milliseconds answers UNKNOWN_TOPIC_OR_PARTITION. Poll for full in-sync replicas instead.
  const created = await admin.createTopics({
    waitForLeaders: false,
    topics: [
      {
        topic,
        numPartitions: partitions,
        replicationFactor,
        configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })),
      },
    ],
  });
  if (!created) throw new Error(`topic ${topic} already existed`);
  await pollUntil(
    async () => {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = metadata.topics[0]?.partitions ?? [];
      const ready = partitions.length === partitions.filter((p) => p.leader >= 0 && p.isr.length === replicationFactor).length;
      if (partitions.length === 0 || !ready) return undefined;
      // The metadata can name a leader a moment before that broker acts as one (a produce
      // then fails with NOT_LEADER_OR_FOLLOWER, which the patched send does not retry once a
      // request went out). ListOffsets is answered only by the acting leader.
      await admin.fetchTopicOffsets(topic);
      return true;
    },
    { timeoutMs: 30_000, what: `topic ${topic} to have a leader and ${replicationFactor} in-sync replicas per partition` },
  );
}

/** Reads `count` committed records from the start of `topic` with a fresh consumer group. */
export async function readBack(kafka: Kafka, topic: string, count: number): Promise<Array<{ key: string; value: string; partition: number }>> {
  const consumer = kafka.consumer({ groupId: `${topic}-reader`, readUncommitted: false });
  const seen: Array<{ key: string; value: string; partition: number }> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        seen.push({ key: message.key?.toString() ?? "", value: message.value?.toString() ?? "", partition });
      },
    });
    await pollUntil(async () => (seen.length >= count ? true : undefined), { timeoutMs: 60_000, what: `${count} records from ${topic}` });
  } finally {
    await consumer.disconnect();
  }
  return seen;
}
