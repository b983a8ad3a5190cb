import { describe, expect, it } from "vitest";
import type { Admin } from "kafkajs";
import { pino } from "pino";
import { ensureTopics } from "./topics.js";

/**
 * An admin whose topic `t` exists, each partition with 3 replicas and the given in-sync set;
 * its leader refuses ListOffsets (NOT_LEADER_OR_FOLLOWER) the first `notLeaderYet` times.
 */
function admin(isr: number[], notLeaderYet = 0, calls = { offsets: 0 }): Admin {
  return {
    listTopics: async () => ["t"],
    fetchTopicOffsets: async () => {
      calls.offsets++;
      if (calls.offsets <= notLeaderYet) throw Object.assign(new Error("This server is not the leader for that topic-partition"), { type: "NOT_LEADER_FOR_PARTITION" });
      return [];
    },
    fetchTopicMetadata: async () => ({ topics: [{ name: "t", partitions: [0, 1].map((partitionId) => ({ partitionId, leader: isr[0] ?? -1, replicas: [1, 2, 3], isr, offlineReplicas: [], partitionErrorCode: 0 })) }] }),
  } as unknown as Admin;
}

describe("ensureTopics on an existing topic", () => {
  it("is ready with a broker down, as long as min.insync.replicas are in sync (the cluster still takes writes)", async () => {
    const counts = await ensureTopics(admin([1, 2]), [{ topic: "t", partitions: 2, replicationFactor: 3, configs: { "min.insync.replicas": "2" } }], pino({ level: "silent" }));
    expect(counts.get("t")).toBe(2);
  });

  it("waits until the named leader acts as one (a fresh topic's leader can refuse requests for a moment)", async () => {
    const calls = { offsets: 0 };
    const counts = await ensureTopics(admin([1, 2, 3], 2, calls), [{ topic: "t", partitions: 2, replicationFactor: 3 }], pino({ level: "silent" }));
    expect(counts.get("t")).toBe(2);
    expect(calls.offsets).toBe(3);
  });
});
