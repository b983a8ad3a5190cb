// The Kafka runtime cache: a folder filled from another pom (an older one without the tools)
// is not taken for complete, so the first run after an upgrade resolves again.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { KAFKA_VERSION, kafkaRuntimeCached, kafkaRuntimeLibs } from "./kafka-runtime.js";

function jars(folder: string, names: string[]): void {
  mkdirSync(folder, { recursive: true });
  for (const n of names) writeFileSync(join(folder, n), "");
}

describe("kafka runtime cache", () => {
  const broker = `kafka_2.13-${KAFKA_VERSION}.jar`;
  const tools = `kafka-tools-${KAFKA_VERSION}.jar`;

  it("does not take a cache filled from the pom before the tools for complete", () => {
    const env = { ZEROLOSS_CACHE_DIR: mkdtempSync(join(tmpdir(), "zl-cache-")) };
    // The layout of the broker-only pom: kafka-<version>/libs with the broker's jar.
    jars(join(env.ZEROLOSS_CACHE_DIR, `kafka-${KAFKA_VERSION}`, "libs"), [broker]);
    expect(kafkaRuntimeCached(env)).toBe(false);
  });

  it("is complete only with the broker's and the tools' jars in the folder of the current pom", () => {
    const env = { ZEROLOSS_CACHE_DIR: mkdtempSync(join(tmpdir(), "zl-cache-")) };
    const libs = kafkaRuntimeLibs(env);
    expect(dirname(libs)).toBe(join(env.ZEROLOSS_CACHE_DIR, `kafka-${KAFKA_VERSION}`));
    expect(basename(libs)).toMatch(/^libs-[0-9a-f]{12}$/);
    jars(libs, [broker]);
    expect(kafkaRuntimeCached(env)).toBe(false);
    jars(libs, [tools]);
    expect(kafkaRuntimeCached(env)).toBe(true);
  });

  it("names a different folder for another version (another pom)", () => {
    const env = { ZEROLOSS_CACHE_DIR: "/cache" };
    expect(kafkaRuntimeLibs(env, "4.2.0")).not.toBe(kafkaRuntimeLibs(env));
    expect(kafkaRuntimeLibs(env)).toBe(kafkaRuntimeLibs(env));
  });
});
