import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { FAILPOINTS, Failpoints, parseFailpoints, type ArmedFailpoint } from "./failpoints.js";

describe("failpoints", () => {
  it("parses every action, with the hit it fires on", () => {
    expect(parseFailpoints("producer.after-kafka-commit=crash@3, producer.before-kafka-commit=stall:250,producer.after-slot-ack=error", "producer")).toEqual([
      { name: "producer.after-kafka-commit", action: { kind: "crash" }, hit: 3 },
      { name: "producer.before-kafka-commit", action: { kind: "stall", ms: 250 }, hit: 1 },
      { name: "producer.after-slot-ack", action: { kind: "error" }, hit: 1 },
    ]);
  });

  it("reports every problem at once: unknown names, another service's points, bad actions, duplicates", () => {
    let message = "";
    try {
      parseFailpoints("producer.nowhere=crash,consumer.after-target-commit=crash,producer.after-slot-ack=explode,producer.after-kafka-commit=crash@0,producer.after-slot-ack", "producer");
    } catch (err) {
      message = (err as Error).message;
      expect((err as { code: string }).code).toBe("CONFIG_FAILPOINTS");
    }
    expect(message).toContain("5 problem(s)");
    expect(message).toContain("producer.nowhere: no such failpoint");
    expect(message).toContain("consumer.after-target-commit: not a producer failpoint");
    expect(message).toContain("producer.after-slot-ack=explode: the action must be");
    expect(message).toContain("@<n> counts from 1");
  });

  it("is off unless the variable names something", () => {
    expect(Failpoints.fromEnv("consumer", {}).armed).toEqual([]);
    expect(Failpoints.fromEnv("consumer", { ZEROLOSS_FAILPOINTS: " " }).armed).toEqual([]);
    expect(Failpoints.fromEnv("consumer", { ZEROLOSS_FAILPOINTS: "consumer.after-target-commit=crash" }).armed).toHaveLength(1);
  });

  it("fires once, on the nth hit, and tells the listener first", async () => {
    const fired: ArmedFailpoint[] = [];
    const f = new Failpoints(parseFailpoints("consumer.after-offset-commit=error@2,consumer.before-target-commit=stall:1", "consumer"), (p) => fired.push(p));
    await f.hit("consumer.after-offset-commit");
    await expect(f.hit("consumer.after-offset-commit")).rejects.toMatchObject({ code: "FAILPOINT_ERROR", retriable: true });
    await f.hit("consumer.after-offset-commit");
    await f.hit("consumer.before-target-commit");
    await f.hit("consumer.after-target-commit"); // not armed
    expect(fired.map((p) => p.name)).toEqual(["consumer.after-offset-commit", "consumer.before-target-commit"]);
  });

  it("is documented, every point in docs/failpoints.md and nothing more", () => {
    const doc = readFileSync(resolve(import.meta.dirname, "../../../docs/failpoints.md"), "utf8");
    const documented = [...doc.matchAll(/^\| `((?:producer|consumer)\.[a-z-]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(FAILPOINTS).sort());
  });
});
