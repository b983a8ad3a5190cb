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

/** null when no checkpoint of this slot and database exists, or the topic does not (no producer has run yet). */
export async function readCheckpoint(kafka: Kafka, topic: string, slot: string, db: string): Promise<Checkpoint | null> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    if (!(await admin.listTopics()).includes(topic)) return null;
  } catch (err) {
    throw kafkaError(err, `looking for the checkpoints topic ${topic}`);
  } finally {
    await admin.disconnect();
  }
  let last: Checkpoint | null = null;
  await readToEnd(
    kafka,
    topic,
    (r) => {
      if (r.key?.toString("utf8") !== slot) return;
      const cp = decodeCheckpoint(r.value);
      if (cp.db === db) last = cp;
    },
    { groupPrefix: `zeroloss-checkpoint-reader-${slot}` },
  );
  return last;
}
