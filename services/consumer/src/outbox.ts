// Publishes what batches left in zeroloss.outbox (written tallies, DLQ records) to Kafka,
// then deletes it. Rows are written in the batch's own transaction, so a crash anywhere
// between the target commit and this publish delays them and never loses them; a crash
// after the send and before the delete sends them again (the counter recognises a tally it
// has seen by its offsets). FOR UPDATE SKIP LOCKED lets several consumer processes drain
// one outbox without sending a row twice.
import { OUTBOX } from "@zeroloss/bookkeeping";
import { kafkaError } from "@zeroloss/kafka";
import { connect, inTransaction, query, type Client } from "@zeroloss/pg";
import type { Kafka, Message, Producer } from "kafkajs";
import type { Logger } from "pino";

const CHUNK = 500;

export class OutboxPublisher {
  private client: Client | null = null;
  private producer: Producer | null = null;
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly o: { readonly url: string; readonly kafka: Kafka; readonly talliesTopic: string; readonly log: Logger; readonly onError: (err: unknown) => void },
  ) {}

  /** Starts a drain, or asks the running one to look again; never throws (failures go to onError and the next drain retries). */
  drain(): Promise<void> {
    if (this.running !== null) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.drainOnce();
        } while (this.again);
      } catch (err) {
        this.o.onError(err);
        await this.reset();
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async drainOnce(): Promise<void> {
    this.client ??= await connect(this.o.url, { applicationName: "zeroloss-consumer-outbox" });
    if (this.producer === null) {
      const p = this.o.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      try {
        await p.connect();
      } catch (err) {
        throw kafkaError(err, "connecting the outbox producer to Kafka");
      }
      this.producer = p;
    }
    const db = this.client;
    const producer = this.producer;
    for (;;) {
      const published = await inTransaction(db, "an outbox drain", async () => {
        const rows = await query<{ id: string; topic: string; key: string | null; value: Buffer }>(
          db,
          "reading the outbox",
          `SELECT id, topic, key, value FROM ${OUTBOX.sql} ORDER BY id LIMIT ${CHUNK} FOR UPDATE SKIP LOCKED`,
        );
        if (rows.length === 0) return 0;
        const byTopic = new Map<string, Message[]>();
        for (const r of rows) {
          const list = byTopic.get(r.topic) ?? [];
          // Raw-text parsers return bytea as its hex text output.
          const value = typeof r.value === "string" ? Buffer.from((r.value as string).slice(2), "hex") : r.value;
          list.push({ key: r.key, value, ...(r.topic === this.o.talliesTopic ? { partition: 0 } : {}) });
          byTopic.set(r.topic, list);
        }
        try {
          await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
        } catch (err) {
          throw kafkaError(err, `publishing ${rows.length} outbox records (tallies, DLQ)`);
        }
        await query(db, "deleting published outbox rows", `DELETE FROM ${OUTBOX.sql} WHERE id = ANY($1::bigint[])`, [rows.map((r) => r.id)]);
        return rows.length;
      });
      if (published === 0) return;
      this.o.log.debug({ records: published }, "published outbox records");
    }
  }

  private async reset(): Promise<void> {
    const c = this.client;
    const p = this.producer;
    this.client = null;
    this.producer = null;
    await c?.end().catch((err: unknown) => this.o.log.debug({ err }, "closing the outbox connection"));
    await p?.disconnect().catch((err: unknown) => this.o.log.debug({ err }, "disconnecting the outbox producer"));
  }

  async close(): Promise<void> {
    await this.running;
    await this.reset();
  }
}
