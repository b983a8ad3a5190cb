// Replay with Kafka's own tool, as docs/consumer.md ("Replay") shows it: `zeroloss dev kafka
// consumer-groups --reset-offsets --to-earliest --all-topics --execute`, run through the CLI
// against a detached stack as a user would. Kafka refuses while the consumer runs; once it is
// stopped the group's offsets go to the start, and the consumer reads every data record again
// (its written tallies are marked replay), the target ends with the same content and the same
// applied LSNs, and rows damaged by hand are repaired, as after `zeroloss replay`.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { pollUntil, type DetachedState } from "@zeroloss/devstack";
import { topicNames } from "@zeroloss/wire";
import { pipelineFixture, sourceClient, type PipelineFixture } from "./harness.js";
import { createAccounts, damageTarget, expectReplayed, streamChanges } from "./replay-scenario.js";

const CLI = resolve(import.meta.dirname, "../../packages/cli/bin/zeroloss.js");

/** A run folder whose detached stack is the shared one: `zeroloss dev kafka` finds its brokers there, as in a user's. */
function detachedRunDir(kafka: readonly string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "zeroloss-kafka-tool-run-"));
  const state: DetachedState = {
    source: "postgres://unused@127.0.0.1:1/none",
    target: "postgres://unused@127.0.0.1:1/none",
    kafka,
    mode: "external",
    brokers: 1,
    kafkaVersion: null,
    instanceDir: null,
    pids: {},
    containers: [],
    startedAt: new Date().toISOString(),
  };
  writeFileSync(join(dir, "detached.json"), JSON.stringify(state));
  return dir;
}

describe("offset reset with Kafka's kafka-consumer-groups", () => {
  let f: PipelineFixture;
  let src: pg.Client;
  let runDir: string | undefined;

  const kafkaTool = (...args: string[]) => {
    const r = spawnSync(process.execPath, [CLI, "dev", "kafka", ...args], { encoding: "utf8", timeout: 60_000, env: { ...process.env, ZEROLOSS_RUN_DIR: runDir } });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  /** The group's committed offset of every data partition, `topic:partition` → offset. */
  const committed = async (): Promise<Map<string, string>> => {
    const admin = f.kafka.admin();
    await admin.connect();
    try {
      const data = (await admin.listTopics()).filter((t) => topicNames(f.prefix).dataPattern.test(t));
      const offsets = await admin.fetchOffsets({ groupId: f.group, topics: data });
      return new Map(offsets.flatMap((t) => t.partitions.map((p) => [`${t.topic}:${p.partition}`, p.offset] as const)));
    } finally {
      await admin.disconnect();
    }
  };

  beforeAll(async () => {
    // One record per snapshot row: the replay's duplicates are counted per row (source.snapshot.bulk).
    f = await pipelineFixture(inject("stack"), "kafka_tool_reset", { source: { snapshot: { bulk: false } } });
    runDir = detachedRunDir(inject("stack").kafka);
    src = await sourceClient(f);
    await createAccounts(src, 200);
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
    if (runDir !== undefined) rmSync(runDir, { recursive: true, force: true });
  });

  it("resets the zeroloss group to earliest; the consumer replays every record and the target ends the same, repaired", async () => {
    const producer = await f.start();
    let consumer = await f.startConsumer();
    const before = await streamChanges(f, src, [producer, consumer]);
    const records = await f.recordsRaw("public.accounts");
    const topic = topicNames(f.prefix).data("public", "accounts");
    // Wait for the consumer's commits to pass every record: the reset must be seen to move them.
    const ends = new Map<string, number>();
    for (const r of records) ends.set(`${topic}:${r.partition}`, Math.max(ends.get(`${topic}:${r.partition}`) ?? 0, r.offset + 1));
    await pollUntil(
      async () => {
        const c = await committed();
        return [...ends].every(([key, end]) => Number(c.get(key) ?? -1) >= end) ? true : undefined;
      },
      { timeoutMs: 30_000, what: `the consumer group to commit past every record (${JSON.stringify([...ends])})` },
    );

    const reset = ["consumer-groups", "--group", f.group, "--reset-offsets", "--to-earliest", "--all-topics", "--execute"];
    // Kafka changes only an empty group's offsets; a running consumer would overwrite them anyway.
    const refused = kafkaTool(...reset);
    expect(`${refused.out}${refused.err}`).toMatch(/can only be reset if the group .* is inactive/);
    expect([...(await committed()).values()].every((o) => Number(o) > 0)).toBe(true);

    expect(await consumer.stop()).toBe(0);
    await damageTarget(f);

    const done = kafkaTool(...reset);
    expect(done.err).toBe("");
    expect(done.code).toBe(0);
    // Kafka's table: GROUP TOPIC PARTITION NEW-OFFSET, one line per partition, all at 0.
    const rows = done.out.split("\n").filter((l) => l.startsWith(f.group));
    const offsets = await committed();
    expect(rows.length).toBeGreaterThanOrEqual(offsets.size);
    expect([...offsets.keys()].sort()).toEqual([...ends.keys()].sort());
    for (const key of ends.keys()) {
      const partition = key.slice(topic.length + 1);
      const line = new RegExp(`^${f.group}\\s+${topic.replace(/\./g, "\\.")}\\s+${partition}\\s+0\\s*$`);
      expect(rows.some((l) => line.test(l)), `${key} at 0 in:\n${done.out}`).toBe(true);
      expect(offsets.get(key), key).toBe("0");
    }

    consumer = await f.startConsumer();
    await expectReplayed(f, src, [producer, consumer], before);
    await producer.stop();
  });
});
