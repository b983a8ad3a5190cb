// How big the producer's sends to Kafka may get: the broker's per-partition batch limit, the
// request size that bounds memory, and the control records of a transaction cut to fit.
import type { Message } from "kafkajs";

/**
 * The broker refuses a partition's record batch over message.max.bytes (1 MiB by default):
 * send before any partition's buffer reaches PARTITION_BYTES. A request may carry many
 * partitions; REQUEST_BYTES bounds memory. Larger requests mean fewer round trips, which
 * is most of the producer's waiting (bench/README.md, "Producer").
 */
export const PARTITION_BYTES = 900 * 1024;
/** A record that would take its partition's buffer past this is sent in the next batch: a bulk snapshot record is up to ~300 KiB. */
export const PARTITION_BATCH_LIMIT = 1000 * 1024;
export const REQUEST_BYTES = 8 * 1024 * 1024;

/**
 * The control records of a transaction (each topic's go to its partition 0), cut into sends
 * whose batch per topic stays below PARTITION_BYTES: a transaction of thousands of source
 * transactions has thousands of manifests, more than the broker takes in one batch.
 */
export function controlSends(records: readonly { topic: string; key: string; value: Buffer }[]): { topic: string; messages: Message[] }[][] {
  const sends: { topic: string; messages: Message[] }[][] = [];
  let current = new Map<string, Message[]>();
  let bytes = new Map<string, number>();
  for (const { topic, key, value } of records) {
    const size = value.length + Buffer.byteLength(key) + 64;
    if ((bytes.get(topic) ?? 0) + size > PARTITION_BYTES && (current.get(topic)?.length ?? 0) > 0) {
      sends.push([...current].map(([t, messages]) => ({ topic: t, messages })));
      current = new Map();
      bytes = new Map();
    }
    let list = current.get(topic);
    if (list === undefined) current.set(topic, (list = []));
    list.push({ key, value, partition: 0 });
    bytes.set(topic, (bytes.get(topic) ?? 0) + size);
  }
  if (current.size > 0) sends.push([...current].map(([t, messages]) => ({ topic: t, messages })));
  return sends;
}
