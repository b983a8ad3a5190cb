import { describe, expect, it } from "vitest";
import { parseConfig } from "@zeroloss/config";
import { configForStack, endpointsJson } from "./dev.js";

const stack = { source: "postgres://zeroloss:zeroloss-dev@127.0.0.1:5001/source", target: "postgres://zeroloss:zeroloss-dev@127.0.0.1:5002/target", kafka: ["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"] };

describe("dev up output", () => {
  it("prints exactly the contract JSON", () => {
    expect(JSON.parse(endpointsJson(stack))).toEqual(stack);
    expect(Object.keys(JSON.parse(endpointsJson({ ...stack, extra: 1 } as typeof stack)))).toEqual(["source", "target", "kafka"]);
  });

  it("writes a zeroloss.yaml the loader accepts, replicated to match the broker count", () => {
    const three = parseConfig(configForStack(stack, 3), "generated");
    expect(three.source.url).toBe(stack.source);
    expect(three.kafka).toMatchObject({ brokers: stack.kafka, replicationFactor: 3, minInsyncReplicas: 2 });
    const one = parseConfig(configForStack({ ...stack, kafka: ["127.0.0.1:9001"] }, 1), "generated");
    expect(one.kafka).toMatchObject({ replicationFactor: 1, minInsyncReplicas: 1 });
    expect(one.counter.url).toBe(stack.target);
  });
});
