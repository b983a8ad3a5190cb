// The partition of a key must be exactly what Kafka's clients compute: checked against
// kafkajs's DefaultPartitioner (Java-compatible murmur2) on many keys of every length.
import { describe, expect, it } from "vitest";
import { Partitioners } from "kafkajs";
import { partitionForKey } from "./partition.js";

describe("partitionForKey", () => {
  it("agrees with kafkajs's default partitioner for keys of every length and script", () => {
    const kafkajs = Partitioners.DefaultPartitioner();
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed;
    };
    const alphabet = ["a", "Z", "0", "{", '"', "é", "€", "😀", "\u0301", " "];
    for (const partitions of [1, 3, 6, 7, 64]) {
      const metadata = Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
      for (let n = 0; n < 400; n++) {
        const len = random() % 40;
        let key = "";
        for (let i = 0; i < len; i++) key += alphabet[random() % alphabet.length];
        if (n % 3 === 0) key = JSON.stringify({ id: String(random()) });
        expect(partitionForKey(key, partitions), `key ${JSON.stringify(key)}`).toBe(kafkajs({ topic: "t", partitionMetadata: metadata, message: { key, value: null } }));
      }
    }
  });
});
