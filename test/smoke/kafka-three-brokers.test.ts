// A second, 3-broker cluster (replication factor 3, min.insync.replicas=2), as the
// durability tests of later issues use it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigResourceTypes, type Admin } from "kafkajs";
import { startKafkaCluster, type KafkaCluster } from "@zeroloss/devstack";
import { testLogger } from "../setup/logger.js";
import { createTopic, kafkaClient, readBack } from "./kafka-helpers.js";

describe("Kafka (3 brokers)", () => {
  let cluster: KafkaCluster;
  let admin: Admin;

  beforeAll(async () => {
    cluster = await startKafkaCluster({ brokers: 3, log: testLogger("kafka-3") });
    admin = kafkaClient(cluster.brokers, "smoke-three-brokers").admin();
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.disconnect();
    await cluster?.stop();
  });

  it("has three brokers and replicates topics three ways with min.insync.replicas=2", async () => {
    const described = await admin.describeCluster();
    expect(described.brokers).toHaveLength(3);

    const topic = `smoke.rf3.${Date.now()}`;
    await createTopic(admin, topic, 3, 3, { "min.insync.replicas": "2" });
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    for (const p of metadata.topics[0]?.partitions ?? []) {
      expect(p.replicas).toHaveLength(3);
      expect(p.isr).toHaveLength(3);
    }
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ["min.insync.replicas"] }],
    });
    expect(configs.resources[0]?.configEntries[0]?.configValue).toBe("2");
  });

  it("commits a transaction with acks=all across the cluster and reads it back", async () => {
    const topic = `smoke.rf3-txn.${Date.now()}`;
    await createTopic(admin, topic, 3, 3, { "min.insync.replicas": "2" });
    const kafka = kafkaClient(cluster.brokers, "smoke-three-brokers");
    const producer = kafka.producer({ transactionalId: `${topic}-producer`, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const messages = Array.from({ length: 30 }, (_, i) => ({ key: `row-${i}`, value: `change-${i}` }));
    try {
      const txn = await producer.transaction();
      await txn.send({ topic, acks: -1, messages });
      await txn.commit();
    } finally {
      await producer.disconnect();
    }
    const seen = await readBack(kafka, topic, messages.length);
    expect(seen.map((r) => r.value).sort()).toEqual(messages.map((m) => m.value).sort());
  });
});
