// Reads the producer's last checkpoint: the newest record for this slot and database in
// the checkpoints topic, read_committed, so a checkpoint of an aborted (fenced) Kafka
// transaction is never seen. Call it after both transactional producers have connected:
// connecting fences and aborts the previous incarnation's open transaction first.
import { readToEnd } from "@zeroloss/kafka";
import { decodeCheckpoint, type Checkpoint } from "@zeroloss/wire";
import type { Kafka } from "kafkajs";

export async function readCheckpoint(kafka: Kafka, topic: string, slot: string, db: string): Promise<Checkpoint | null> {
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
