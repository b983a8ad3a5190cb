// The Kafka client of the producer, on its own thread. kafkajs encodes every record in
// JavaScript (CRC32C included): about as much CPU per row as decoding, building and
// checksumming the change. On the main thread the two took turns on one core; here they
// run on two (bench/README.md, "Producer"). This file only executes what KafkaWriter
// asks, in order, and answers each request; the policy stays in kafka-writer.ts.
import { parentPort, workerData } from "node:worker_threads";
import { createLogger } from "@zeroloss/observability";
import { createKafka, kafkaError } from "@zeroloss/kafka";
import { CompressionTypes, type Message, type Producer, type Transaction } from "kafkajs";
import type { SentPartition, WorkerConfig, WorkerReply, WorkerRequest, WireBatch } from "./kafka-worker-protocol.js";

const config = workerData as WorkerConfig;
const log = createLogger({ name: "producer", level: config.logLevel }).child({ component: "kafka-worker" });
const kafka = createKafka({ brokers: config.brokers, clientId: config.clientId, log });
const producer: Producer = kafka.producer({
  transactionalId: config.transactionalId,
  idempotent: true,
  maxInFlightRequests: 1,
  transactionTimeout: config.transactionTimeoutMs,
  allowAutoTopicCreation: false,
  retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 5_000 },
});
let txn: Transaction | null = null;

function messagesOf(batch: WireBatch): { topic: string; messages: Message[] }[] {
  const data = Buffer.from(batch.data);
  let at = 0;
  return batch.topics.map((t) => ({
    topic: t.topic,
    messages: t.keys.map((key, i) => {
      const len = t.lengths[i] as number;
      const value = data.subarray(at, at + len);
      at += len;
      return { key, value, partition: t.partitions[i] as number };
    }),
  }));
}

async function begin(): Promise<Transaction> {
  txn ??= await producer.transaction();
  return txn;
}

async function handle(req: WorkerRequest): Promise<SentPartition[] | null> {
  switch (req.op) {
    case "connect":
      await producer.connect();
      return null;
    case "send": {
      const t = await begin();
      const meta = await t.sendBatch({ topicMessages: messagesOf(req.batch), acks: -1, compression: CompressionTypes.None });
      return meta.map((m) => ({ topic: m.topicName, partition: m.partition, baseOffset: m.baseOffset === undefined ? null : String(m.baseOffset) }));
    }
    case "commit": {
      const t = await begin();
      const topicMessages = messagesOf(req.batch);
      if (topicMessages.some((m) => m.messages.length > 0)) await t.sendBatch({ topicMessages, acks: -1 });
      txn = null;
      await t.commit();
      return null;
    }
    case "abort": {
      const t = txn;
      txn = null;
      if (t !== null) await t.abort();
      return null;
    }
    case "disconnect":
      await producer.disconnect();
      return null;
  }
}

let chain: Promise<void> = Promise.resolve();
parentPort?.on("message", (req: WorkerRequest) => {
  chain = chain.then(async () => {
    let reply: WorkerReply;
    try {
      reply = { id: req.id, ok: true, result: await handle(req) };
    } catch (err) {
      if (req.op === "send" || req.op === "commit") txn = null; // the next connect fences it
      const e = kafkaError(err, req.op === "commit" ? "committing a Kafka transaction" : req.op === "send" ? "sending records to Kafka" : `Kafka ${req.op}`);
      reply = { id: req.id, ok: false, error: { code: e.code, message: e.message, retriable: e.retriable } };
    }
    parentPort?.postMessage(reply);
  });
});
