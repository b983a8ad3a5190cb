import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

  it("a secure stack: passwords in files (never printed), TLS with the client's certificate, SASL SCRAM", () => {
    const dir = mkdtempSync(join(tmpdir(), "zl-dev-secure-"));
    const file = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const security = {
      caFile: file("ca.pem", "-----BEGIN CERTIFICATE-----\n"),
      clientCertFile: file("client.pem", "-----BEGIN CERTIFICATE-----\n"),
      clientKeyFile: file("client.key", "-----BEGIN PRIVATE KEY-----\n"),
      kafkaUser: "zeroloss",
      kafkaPasswordFile: file("kafka-password", "k-secret-1234\n"),
      postgresPasswordFile: file("postgres-password", "p-secret-1234\n"),
    };
    const secure = { ...stack, source: "postgres://zeroloss:p-secret-1234@127.0.0.1:5001/source?sslmode=verify-full", security };
    const text = configForStack(secure, 1);
    expect(text).not.toContain("p-secret-1234");
    expect(endpointsJson(secure)).not.toContain("p-secret-1234");
    const cfg = parseConfig(text, "generated");
    expect(new URL(cfg.source.url).password).toBe("p-secret-1234");
    expect(cfg.source.passwordFile).toBe(security.postgresPasswordFile);
    expect(cfg.kafka.tls).toMatchObject({ caFile: security.caFile, certFile: security.clientCertFile, keyFile: security.clientKeyFile, verifyServerName: true });
    expect(cfg.kafka.sasl).toMatchObject({ mechanism: "scram-sha-512", username: "zeroloss", password: "k-secret-1234" });
  });
});
