import { describe, expect, it } from "vitest";
import { kafkaError } from "./client.js";

/** A kafkajs-like failure: a protocol error carries `type`, kafkajs's own errors only their name. */
const protocol = (type: string) => Object.assign(new Error(`broker says ${type}`), { name: "KafkaJSProtocolError", type });
const named = (name: string) => Object.assign(new Error(name), { name });

describe("kafkaError", () => {
  it.each([
    ["a protocol type with a code", protocol("NOT_ENOUGH_REPLICAS"), "KAFKA_NOT_ENOUGH_REPLICAS", true],
    ["a refused ACL", protocol("TOPIC_AUTHORIZATION_FAILED"), "KAFKA_TOPIC_AUTHORIZATION_FAILED", false],
    ["kafkajs's own error, by its name", named("KafkaJSSASLAuthenticationError"), "KAFKA_SASL_AUTHENTICATION_ERROR", false],
    ["a type under kafkajs's wrapper", Object.assign(named("KafkaJSNumberOfRetriesExceeded"), { cause: protocol("LEADER_NOT_AVAILABLE") }), "KAFKA_LEADER_NOT_AVAILABLE", true],
    ["a broker away", named("KafkaJSConnectionError"), "KAFKA_CONNECTION_ERROR", true],
  ])("%s: its own code, retriable as the catalog says", (_what, err, code, retriable) => {
    expect(kafkaError(err, "sending")).toMatchObject({ code, retriable });
  });

  it("any other type is KAFKA_FAILED, retriable, naming the type", () => {
    const e = kafkaError(protocol("FENCED_LEADER_EPOCH"), "sending");
    expect(e).toMatchObject({ code: "KAFKA_FAILED", retriable: true, details: { kafkaError: "FENCED_LEADER_EPOCH" } });
    expect(e.message).toBe("sending: broker says FENCED_LEADER_EPOCH (FENCED_LEADER_EPOCH)");
    expect(kafkaError(protocol("toString"), "x").code).toBe("KAFKA_FAILED"); // an Object.prototype member is no type with a code
  });
});
