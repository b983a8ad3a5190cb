import { describe, expect, it } from "vitest";
import type { Admin } from "kafkajs";
import { pino } from "pino";
import { ensureTopics } from "./topics.js";

/** An admin whose topic `t` exists, each partition with 3 replicas and the given in-sync set. */
function admin(isr: number[]): Admin {
  return {
    listTopics: async () => ["t"],
    fetchTopicMetadata: async () => ({ topics: [{ name: "t", partitions: [0, 1].map((partitionId) => ({ partitionId, leader: isr[0] ?? -1, replicas: [1, 2, 3], isr, offlineReplicas: [], partitionErrorCode: 0 })) }] }),
  } as unknown as Admin;
}

describe("ensureTopics on an existing topic", () => {
  it("is ready with a broker down, as long as min.insync.replicas are in sync (the cluster still takes writes)", async () => {
    const counts = await ensureTopics(admin([1, 2]), [{ topic: "t", partitions: 2, replicationFactor: 3, configs: { "min.insync.replicas": "2" } }], pino({ level: "silent" }));
    expect(counts.get("t")).toBe(2);
  });
});
