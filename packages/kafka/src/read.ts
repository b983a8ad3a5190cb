// Reads a topic from its beginning to its current end, committed records only. Used for
// the producer's checkpoints and by tests. kafkajs has no plain fetch API, so this runs a
// throwaway consumer group (never committing offsets) and stops once every partition's
// position reaches the end offset taken at the start.
import { pollUntil, ZerolossError } from "@zeroloss/errors";
import type { Kafka, KafkaMessage } from "kafkajs";
import { randomUUID } from "node:crypto";
import { kafkaError } from "./client.js";

export interface ReadRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: KafkaMessage["headers"];
}

export interface ReadToEndOptions {
  /** Give up after this long (default 120 s). */
  readonly timeoutMs?: number;
  readonly groupPrefix?: string;
  /** Read only each partition's last N records (and whatever arrives before the seek lands). */
  readonly lastRecords?: number;
}

export async function readToEnd(
  kafka: Kafka,
  topic: string,
  onRecord: (r: ReadRecord) => void,
  options: ReadToEndOptions = {},
): Promise<number> {
  const admin = kafka.admin();
  let ends: Map<number, bigint>;
  let lows: Map<number, bigint>;
  try {
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
    lows = new Map(offsets.map((o) => [o.partition, BigInt(o.low)]));
    for (const [p, high] of ends) if (high <= (lows.get(p) ?? 0n)) ends.delete(p);
  } catch (err) {
    throw kafkaError(err, `reading the end offsets of ${topic}`);
  } finally {
    await admin.disconnect();
  }
  if (ends.size === 0) return 0;
  const reached = new Map<number, bigint>();
  let count = 0;
  const consumer = kafka.consumer({
    groupId: `${options.groupPrefix ?? "zeroloss-reader"}-${randomUUID()}`,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    // The end is known; do not let the broker hold an empty fetch for kafkajs's default 5 s.
    maxWaitTimeInMs: 100,
  });
  const { END_BATCH_PROCESS } = consumer.events;
  consumer.on(END_BATCH_PROCESS, (e) => {
    if (e.payload.topic === topic) reached.set(e.payload.partition, BigInt(e.payload.lastOffset) + 1n);
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        count++;
        onRecord({ topic, partition, offset: message.offset, key: message.key, value: message.value, headers: message.headers });
      },
    });
    const tail = options.lastRecords;
    if (tail !== undefined) {
      for (const [partition, end] of ends) {
        const low = lows.get(partition) ?? 0n;
        consumer.seek({ topic, partition, offset: (end - BigInt(tail) > low ? end - BigInt(tail) : low).toString() });
      }
    }
    await pollUntil(async () => ([...ends].every(([p, end]) => (reached.get(p) ?? 0n) >= end) ? true : undefined), {
      timeoutMs: options.timeoutMs ?? 120_000,
      intervalMs: 50,
      what: `reading ${topic} to its end`,
    });
  } catch (err) {
    if (err instanceof ZerolossError) throw err;
    throw kafkaError(err, `reading ${topic}`);
  } finally {
    await consumer.disconnect();
  }
  return count;
}
