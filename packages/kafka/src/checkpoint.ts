// Reads the producer's last checkpoint: the newest record for this slot and database in
// the checkpoints topic, read_committed, so a checkpoint of an aborted (fenced) Kafka
// transaction is never seen. The producer calls it after both transactional producers have
// connected: connecting fences and aborts the previous incarnation's open transaction
// first. `zeroloss slot status` calls it too, to compare the slot with it; it lives here,
// not in the producer, because packages never import services.
import { decodeCheckpoint, type Checkpoint } from "@zeroloss/wire";
import type { Kafka } from "kafkajs";
import { kafkaError } from "./client.js";
import { readToEnd } from "./read.js";

/**
 * null when no checkpoint of this slot and database exists, or the topic does not (no producer
 * has run yet). With `lastRecords`, only the topic's tail is read first (the newest checkpoint
 * is almost always among the last records; the topic is compacted only now and then), and the
 * whole topic only when the tail holds none of this slot's.
 */
export async function readCheckpoint(kafka: Kafka, topic: string, slot: string, db: string, options: { readonly lastRecords?: number } = {}): Promise<Checkpoint | null> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    if (!(await admin.listTopics()).includes(topic)) return null;
  } catch (err) {
    throw kafkaError(err, `looking for the checkpoints topic ${topic}`);
  } finally {
    await admin.disconnect();
  }
  const read = async (lastRecords: number | undefined): Promise<Checkpoint | null> => {
    let last: Checkpoint | null = null;
    let lastOffset = -1n;
    await readToEnd(
      kafka,
      topic,
      (r) => {
        if (r.key?.toString("utf8") !== slot || BigInt(r.offset) < lastOffset) return;
        const cp = decodeCheckpoint(r.value);
        if (cp.db !== db) return;
        last = cp;
        lastOffset = BigInt(r.offset);
      },
      { groupPrefix: `zeroloss-checkpoint-reader-${slot}`, ...(lastRecords === undefined ? {} : { lastRecords }) },
    );
    return last;
  };
  return (options.lastRecords === undefined ? null : await read(options.lastRecords)) ?? (await read(undefined));
}

/**
 * Each partition's first offset and committed end (read_committed ListOffsets) of the
 * checkpoints topic: logged when the slot stays ahead of the checkpoint read, so a false
 * alarm (a checkpoint not readable yet) can be told from a real gap afterwards.
 */
export async function checkpointTopicEnds(kafka: Kafka, topic: string): Promise<{ partition: number; low: string; committedEnd: string }[]> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    return (await admin.fetchTopicOffsets(topic)).map((o) => ({ partition: o.partition, low: o.low, committedEnd: o.high }));
  } catch (err) {
    throw kafkaError(err, `reading the offsets of ${topic}`);
  } finally {
    await admin.disconnect();
  }
}
