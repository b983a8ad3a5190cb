import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_SNAPSHOT_WORKERS, ENV_KEYS, parseConfig } from "./index.js";

const minimal = `
source: { url: "postgres://u:p@127.0.0.1:5432/src" }
target: { url: "postgres://u:p@127.0.0.1:5433/tgt" }
kafka: { brokers: ["127.0.0.1:9092"] }
`;

function problemsOf(fn: () => unknown): Array<{ path: string; message: string }> {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error("expected a ConfigError");
}

describe("parseConfig", () => {
  it("fills every default of the documented example", () => {
    const cfg = parseConfig(minimal, "test.yaml");
    expect(cfg.source).toEqual({
      url: "postgres://u:p@127.0.0.1:5432/src",
      tables: ["public.*"],
      exclude: [],
      slot: "zeroloss",
      slotFailover: false,
      publication: "zeroloss",
      snapshot: { mode: "initial", chunkSize: 10_000, newTablesSeconds: 10, workers: DEFAULT_SNAPSHOT_WORKERS, bulk: true },
      heartbeatSeconds: 10,
    });
    expect(cfg.kafka).toMatchObject({ topicPrefix: "zeroloss", partitions: 6, replicationFactor: 1, minInsyncReplicas: 1 });
    expect(cfg.producer).toEqual({ http: { port: 9401, host: "127.0.0.1" }, batchRecords: 5_000, lingerMs: 100, transactionTimeoutMs: 900_000, stallSeconds: 120 });
    expect(cfg.tallies.windowSize).toBe(10_000);
    expect(cfg.consumer).toMatchObject({ group: "zeroloss", http: { port: 9402 } });
    expect(cfg.counter.http.port).toBe(9400);
    expect(cfg.counter.url).toBe(cfg.target.url); // the ledger defaults to the target database
  });

  it("refuses an unknown snapshot mode, naming the key", () => {
    const problems = problemsOf(() => parseConfig(minimal.replace('url: "postgres://u:p@127.0.0.1:5432/src"', 'url: "postgres://u:p@127.0.0.1:5432/src", snapshot: { mode: "sometimes" }'), "t"));
    expect(problems).toEqual([expect.objectContaining({ path: "source.snapshot.mode" })]);
  });

  it("derives min.insync.replicas 2 for replication factor 3", () => {
    const cfg = parseConfig(`${minimal}\n`.replace('kafka: { brokers: ["127.0.0.1:9092"] }', 'kafka: { brokers: ["a:1", "b:2", "c:3"], replicationFactor: 3 }'), "t");
    expect(cfg.kafka.minInsyncReplicas).toBe(2);
  });

  it("reports every problem at once, each with its path", () => {
    const problems = problemsOf(() =>
      parseConfig(
        `
source: { url: "mysql://nope", tables: ["no_dot"] }
target: {}
kafka: { brokers: ["no-port"], partitions: "six", topicPrefx: "typo" }
`,
        "bad.yaml",
      ),
    );
    const paths = problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(["source.url", "source.tables.0", "target.url", "kafka.brokers.0", "kafka.partitions", "kafka"]));
    expect(problems.find((p) => p.path === "kafka")?.message).toMatch(/topicPrefx/);
    expect(problems.length).toBeGreaterThanOrEqual(6);
  });

  it("names the line of a YAML syntax error", () => {
    const problems = problemsOf(() => parseConfig("source:\n  url: [unclosed\n", "broken.yaml"));
    expect(problems[0]?.path).toMatch(/^line \d+, column \d+$/);
  });

  it("rejects minInsyncReplicas above the replication factor", () => {
    const problems = problemsOf(() => parseConfig(minimal.replace('brokers: ["127.0.0.1:9092"]', 'brokers: ["127.0.0.1:9092"], minInsyncReplicas: 2'), "t"));
    expect(problems).toEqual([expect.objectContaining({ path: "kafka.minInsyncReplicas" })]);
  });

  it("takes overrides from ZEROLOSS_* variables derived from the key paths", () => {
    const cfg = parseConfig("", "env-only", {
      ZEROLOSS_SOURCE_URL: "postgres://s@h:1/a",
      ZEROLOSS_TARGET_URL: "postgres://t@h:2/b",
      ZEROLOSS_KAFKA_BROKERS: "h:9092, h:9093",
      ZEROLOSS_KAFKA_TOPIC_PREFIX: "ledger",
      ZEROLOSS_KAFKA_PARTITIONS: "12",
      ZEROLOSS_CONSUMER_HTTP_PORT: "19402",
    });
    expect(cfg.kafka.brokers).toEqual(["h:9092", "h:9093"]);
    expect(cfg.kafka.topicPrefix).toBe("ledger");
    expect(cfg.kafka.partitions).toBe(12);
    expect(cfg.consumer.http.port).toBe(19402);
  });

  it("lets the environment win over the file and reports a bad value by variable name", () => {
    expect(parseConfig(minimal, "t", { ZEROLOSS_SOURCE_SLOT: "other" }).source.slot).toBe("other");
    const problems = problemsOf(() => parseConfig(minimal, "t", { ZEROLOSS_KAFKA_PARTITIONS: "many" }));
    expect(problems).toEqual([{ path: "ZEROLOSS_KAFKA_PARTITIONS", message: expect.stringMatching(/expected a number/) }]);
  });

  it("takes source.slot as a name or as { name, failover }, always giving source.slot (the name) and source.slotFailover", () => {
    const withSlot = (slot: string) => minimal.replace('source: { url: "postgres://u:p@127.0.0.1:5432/src" }', `source: { url: "postgres://u:p@127.0.0.1:5432/src", slot: ${slot} }`);
    expect(parseConfig(withSlot("cdc"), "t").source).toMatchObject({ slot: "cdc", slotFailover: false });
    expect(parseConfig(withSlot("{ name: cdc, failover: true }"), "t").source).toMatchObject({ slot: "cdc", slotFailover: true });
    expect(parseConfig(withSlot("{ failover: true }"), "t").source).toMatchObject({ slot: "zeroloss", slotFailover: true });
    expect(parseConfig(withSlot("{ name: cdc }"), "t").source).toMatchObject({ slot: "cdc", slotFailover: false });
    expect(problemsOf(() => parseConfig(withSlot("{ name: cdc, failover: yes-please }"), "t")).map((p) => p.path)).toEqual(["source.slot"]);
    expect(problemsOf(() => parseConfig(withSlot("{ name: cdc, fail: true }"), "t")).map((p) => p.path)).toEqual(["source.slot"]);
    expect(problemsOf(() => parseConfig(withSlot("Bad-Name"), "t")).map((p) => p.path)).toEqual(["source.slot"]);
  });

  it("combines ZEROLOSS_SOURCE_SLOT and ZEROLOSS_SOURCE_SLOT_FAILOVER with either form of source.slot", () => {
    const objectForm = minimal.replace('source: { url: "postgres://u:p@127.0.0.1:5432/src" }', 'source: { url: "postgres://u:p@127.0.0.1:5432/src", slot: { name: cdc, failover: true } }');
    const nameForm = minimal.replace('source: { url: "postgres://u:p@127.0.0.1:5432/src" }', 'source: { url: "postgres://u:p@127.0.0.1:5432/src", slot: cdc }');
    expect(parseConfig(objectForm, "t", { ZEROLOSS_SOURCE_SLOT: "other" }).source).toMatchObject({ slot: "other", slotFailover: true });
    expect(parseConfig(nameForm, "t", { ZEROLOSS_SOURCE_SLOT_FAILOVER: "true" }).source).toMatchObject({ slot: "cdc", slotFailover: true });
    expect(parseConfig(minimal, "t", { ZEROLOSS_SOURCE_SLOT_FAILOVER: "true" }).source).toMatchObject({ slot: "zeroloss", slotFailover: true });
    expect(parseConfig(minimal, "t", { ZEROLOSS_SOURCE_SLOT: "x", ZEROLOSS_SOURCE_SLOT_FAILOVER: "1" }).source).toMatchObject({ slot: "x", slotFailover: true });
    expect(ENV_KEYS.filter((k) => k.variable.startsWith("ZEROLOSS_SOURCE_SLOT")).map((k) => k.variable)).toEqual(["ZEROLOSS_SOURCE_SLOT", "ZEROLOSS_SOURCE_SLOT_FAILOVER"]);
  });

  it("derives one distinct variable for every leaf key", () => {
    const names = ENV_KEYS.map((k) => k.variable);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(["ZEROLOSS_SOURCE_URL", "ZEROLOSS_TARGET_URL", "ZEROLOSS_KAFKA_BROKERS", "ZEROLOSS_COUNTER_URL", "ZEROLOSS_KAFKA_MIN_INSYNC_REPLICAS"]));
  });
});
