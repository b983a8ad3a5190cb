// Shared by the Kafka smoke tests: produce with acks=all, read back with a consumer group.
import { Kafka, logLevel, type Admin } from "kafkajs";
import { pollUntil } from "@zeroloss/devstack";

export function kafkaClient(brokers: readonly string[], clientId: string): Kafka {
  // kafkajs logs retriable coordinator errors at ERROR while a fresh cluster elects; assertions report real failures.
  return new Kafka({ clientId, brokers: [...brokers], logLevel: logLevel.NOTHING });
}

export async function createTopic(admin: Admin, topic: string, partitions: number, replicationFactor: number, configs: Record<string, string> = {}): Promise<void> {
  const created = await admin.createTopics({
    waitForLeaders: true,
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
