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
import { readToEnd } from "@zeroloss/kafka";
import { decodeTally, topicNames, type Tally } from "@zeroloss/wire";
import { pipelineFixture, sourceClient, tableDigest, waitForEqual, type PipelineFixture, type TableSpec } from "./harness.js";

const CLI = resolve(import.meta.dirname, "../../packages/cli/bin/zeroloss.js");
const ACCOUNTS: TableSpec = { name: "public.accounts", columns: ["id", "owner", "balance"], key: ["id"] };

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

async function appliedLsns(client: pg.Client): Promise<Map<string, string>> {
  const r = await client.query<{ id: string; lsn: string }>(`SELECT id, _zeroloss_lsn::text AS lsn FROM accounts`);
  return new Map(r.rows.map((x) => [x.id, x.lsn]));
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
    await src.query(`CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance numeric(18,4))`);
    await src.query(`INSERT INTO accounts SELECT i, 'owner ' || i, i FROM generate_series(1, 200) i`);
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
    if (runDir !== undefined) rmSync(runDir, { recursive: true, force: true });
  });

  it("resets the zeroloss group to earliest; the consumer replays every record and the target ends the same, repaired", async () => {
    const producer = await f.start();
    let consumer = await f.startConsumer();
    await waitForEqual(f, src, [ACCOUNTS], [producer, consumer]); // the snapshot; the changes below are streamed
    await src.query(`UPDATE accounts SET balance = balance * 2 WHERE id % 3 = 0`);
    await src.query(`DELETE FROM accounts WHERE id % 10 = 0`);
    await waitForEqual(f, src, [ACCOUNTS], [producer, consumer]);
    const before = await tableDigest(f.target, ACCOUNTS.name, ACCOUNTS.columns, ACCOUNTS.key);
    const lsnsBefore = await appliedLsns(f.target);
    const records = await f.recordsRaw("public.accounts");
    const dataRecords = records.length;
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
    // Damage by hand: a changed value, a removed row, and a row the stream deleted.
    await f.target.query(`UPDATE accounts SET balance = 0 WHERE id = 7`);
    await f.target.query(`DELETE FROM accounts WHERE id = 8`);
    await f.target.query(`INSERT INTO accounts (id, owner, balance) VALUES (20, 'deleted at the source', 0)`);

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
    const tallies = await pollUntil(
      async () => {
        const t: Tally[] = [];
        await readToEnd(f.kafka, topicNames(f.prefix).tallies, (r) => t.push(decodeTally(r.value)));
        const replayed = t.filter((x) => x.stage === "written" && x.replay === true);
        return replayed.reduce((s, x) => s + x.count, 0) >= dataRecords ? replayed : undefined;
      },
      { timeoutMs: 60_000, what: "written tallies marked replay for every data record" },
    );
    expect(tallies.reduce((s, x) => s + x.count, 0)).toBe(dataRecords);
    // Only row 8, removed by hand, is applied again from its last record; row 7 (altered) is
    // rewritten at the LSN it already had, counted a duplicate, like every other record.
    expect(tallies.reduce((s, x) => s + (x.detail?.["applied"] ?? 0), 0)).toBe(1);

    await waitForEqual(f, src, [ACCOUNTS], [producer, consumer]);
    expect(await tableDigest(f.target, ACCOUNTS.name, ACCOUNTS.columns, ACCOUNTS.key)).toEqual(before);
    expect(await appliedLsns(f.target)).toEqual(lsnsBefore);
    await producer.stop();
  });
});
