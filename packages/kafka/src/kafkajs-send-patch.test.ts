// The patched kafkajs send path (patches/kafkajs+2.2.4.patch, producer/sendMessages.js): a
// transaction's records go to several brokers at once; when one request fails after any
// request went out, kafkajs 2.2.4 retried per broker and could skip a partition whose leader
// moved to a broker that had already answered (records missing from a committed
// transaction) or resend a request still in flight with new sequence numbers (records
// doubled). The fault suite saw both when a partition leader was killed. Patched, every
// request settles and the failure goes to the caller, who aborts the transaction.
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";

const require = createRequire(import.meta.url);
const kafkajsSrc = require.resolve("kafkajs").replace(/index\.js$/, "src/");
type SendMessages = (o: Record<string, unknown>) => (args: Record<string, unknown>) => Promise<unknown[]>;
const sendMessages = require(`${kafkajsSrc}producer/sendMessages.js`) as SendMessages;
const createRetry = require(`${kafkajsSrc}retry/index.js`) as (o: Record<string, unknown>) => unknown;
type ErrorClass = new (...a: unknown[]) => Error;
const { KafkaJSConnectionClosedError, KafkaJSMetadataNotLoaded } = require(`${kafkajsSrc}errors.js`) as { KafkaJSConnectionClosedError: ErrorClass; KafkaJSMetadataNotLoaded: ErrorClass };

const logger = { error: () => undefined, debug: () => undefined, warn: () => undefined, info: () => undefined };

function setup(produce: Record<number, (attempt: number) => Promise<unknown>>, leaders: () => Record<string, string[]>) {
  const calls: Record<number, number> = { 1: 0, 2: 0 };
  const brokers = Object.fromEntries(
    [1, 2].map((nodeId) => [nodeId, { nodeId, produce: () => produce[nodeId]!(++calls[nodeId]!) }]),
  );
  const cluster = {
    refreshMetadataIfNecessary: async () => undefined,
    refreshMetadata: async () => undefined,
    addMultipleTargetTopics: async () => undefined,
    isConnected: () => true,
    removeBroker: () => undefined,
    findTopicPartitionMetadata: () => [{ partitionId: 0 }, { partitionId: 1 }],
    findLeaderForPartitions: () => leaders(),
    findBroker: async ({ nodeId }: { nodeId: number }) => brokers[nodeId],
  };
  const eosManager = {
    acquireBrokerLock: async () => undefined,
    releaseBrokerLock: async () => undefined,
    isTransactional: () => true,
    addPartitionsToTransaction: async () => undefined,
    getSequence: () => 0,
    updateSequence: () => undefined,
    getTransactionalId: () => "tx",
    getProducerId: () => 1,
    getProducerEpoch: () => 0,
  };
  const send = sendMessages({
    logger,
    cluster,
    eosManager,
    partitioner: ({ message }: { message: { partition: number } }) => message.partition,
    retrier: createRetry({ retries: 3, initialRetryTime: 1, maxRetryTime: 5 }),
  });
  const run = () => send({ acks: -1, timeout: 1000, compression: 0, topicMessages: [{ topic: "t", messages: [{ partition: 0, value: "a" }, { partition: 1, value: "b" }] }] });
  return { run, calls };
}

const ok = (partition: number) => async () => ({ topics: [{ topicName: "t", partitions: [{ partition, errorCode: 0, baseOffset: "0" }] }] });

describe("patched kafkajs sendMessages", () => {
  it("does not retry once a request went out: the caller gets the error and aborts", async () => {
    // Partition 1's leader (broker 2) dies; its partition moves to broker 1, which already answered for partition 0.
    let moved = false;
    const { run, calls } = setup(
      {
        1: ok(0),
        2: async () => {
          moved = true;
          throw new KafkaJSConnectionClosedError("Connection closed", { host: "b2", port: 9092 });
        },
      },
      () => (moved ? { "1": ["0", "1"] } : { "1": ["0"], "2": ["1"] }),
    );
    await expect(run()).rejects.toThrow(/Connection closed/);
    expect(calls).toEqual({ 1: 1, 2: 1 }); // nothing sent twice, nothing reported as sent that was not
  });

  it("waits for every request of the attempt before reporting the failure", async () => {
    let slowDone = false;
    const { run } = setup(
      {
        1: async () => {
          await new Promise((r) => setTimeout(r, 50));
          slowDone = true;
          return ok(0)();
        },
        2: async () => {
          throw new KafkaJSConnectionClosedError("Connection closed", { host: "b2", port: 9092 });
        },
      },
      () => ({ "1": ["0"], "2": ["1"] }),
    );
    await expect(run()).rejects.toThrow(/Connection closed/);
    expect(slowDone).toBe(true); // no request of the transaction is still in flight when the caller aborts
  });

  it("still retries a failure before anything was sent", async () => {
    let lookups = 0;
    const { run, calls } = setup({ 1: ok(0), 2: ok(1) }, () => {
      if (++lookups === 1) throw new KafkaJSMetadataNotLoaded("Producing to topic without metadata");
      return { "1": ["0"], "2": ["1"] };
    });
    const responses = await run();
    expect(responses).toHaveLength(2);
    expect(calls).toEqual({ 1: 1, 2: 1 });
  });
});
