// What `zeroloss dev kafka` adds to a Kafka tool's arguments, and the client configuration of
// a secure stack (the JVM runs are in test/consumer/offset-reset-kafka-tool.test.ts).
import { describe, expect, it } from "vitest";
import { KAFKA_TOOLS, givesFlag, kafkaToolList, needsBootstrap, secureClientProperties } from "./kafka-tools.js";

describe("Kafka tools", () => {
  it("offers the distribution's consumer-groups, topics and configs by their script names", () => {
    expect(KAFKA_TOOLS["consumer-groups"]?.mainClass).toBe("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand");
    expect(KAFKA_TOOLS["topics"]?.mainClass).toBe("org.apache.kafka.tools.TopicCommand");
    expect(KAFKA_TOOLS["configs"]?.mainClass).toBe("kafka.admin.ConfigCommand");
    for (const name of Object.keys(KAFKA_TOOLS)) expect(kafkaToolList()).toMatch(new RegExp(`^  ${name} +\\S`, "m"));
  });

  it("adds the stack's brokers unless the user gave some or only asks for help", () => {
    expect(needsBootstrap(["--list"])).toBe(true);
    expect(needsBootstrap(["--bootstrap-server", "kafka:9092", "--list"])).toBe(false);
    expect(needsBootstrap(["--bootstrap-server=kafka:9092", "--list"])).toBe(false);
    expect(needsBootstrap(["--help"])).toBe(false);
    expect(needsBootstrap(["-h"])).toBe(false);
    expect(givesFlag(["--command-config-x"], "--command-config")).toBe(false);
  });

  it("writes a secure stack's SASL_SSL client settings, quoting the password for JAAS and .properties", () => {
    const security = {
      caFile: "/run/tls/ca.pem",
      clientCertFile: "/run/tls/client.pem",
      clientKeyFile: "/run/tls/client.key",
      kafkaUser: "zeroloss",
      kafkaPasswordFile: "/run/tls/kafka-password",
      postgresPasswordFile: "/run/tls/postgres-password",
    };
    const text = secureClientProperties(security, 'p"w\\d', "/tmp/x/client-keystore.pem");
    const props = Object.fromEntries(
      text
        .split("\n")
        .filter((l) => l !== "" && !l.startsWith("#"))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    expect(props).toEqual({
      "security.protocol": "SASL_SSL",
      "sasl.mechanism": "SCRAM-SHA-512",
      // .properties unescapes \\ to \, then JAAS unescapes \" and \\: the password p"w\d.
      "sasl.jaas.config": 'org.apache.kafka.common.security.scram.ScramLoginModule required username="zeroloss" password="p\\\\"w\\\\\\\\d";',
      "ssl.truststore.type": "PEM",
      "ssl.truststore.location": "/run/tls/ca.pem",
      "ssl.keystore.type": "PEM",
      "ssl.keystore.location": "/tmp/x/client-keystore.pem",
    });
  });
});
