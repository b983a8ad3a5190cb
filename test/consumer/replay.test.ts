// Replay by offset reset: `zeroloss replay` refuses while the group has members, resets to
// earliest once it is empty, and the consumer applies everything again: the target ends
// identical (same content, same applied LSNs), rows altered or removed by hand in the
// target are repaired, and the written tallies of the replayed records say so.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { pollUntil } from "@zeroloss/devstack";
import { readToEnd } from "@zeroloss/kafka";
import { decodeTally, topicNames, type Tally } from "@zeroloss/wire";
import { pipelineFixture, sourceClient, tableDigest, waitForEqual, type PipelineFixture, type TableSpec } from "./harness.js";

const CLI = resolve(import.meta.dirname, "../../packages/cli/bin/zeroloss.js");
const ACCOUNTS: TableSpec = { name: "public.accounts", columns: ["id", "owner", "balance"], key: ["id"] };

function replay(configFile: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, "replay", "--config", configFile, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function appliedLsns(client: pg.Client): Promise<Map<string, string>> {
  const r = await client.query<{ id: string; lsn: string }>(`SELECT id, _zeroloss_lsn::text AS lsn FROM accounts`);
  return new Map(r.rows.map((x) => [x.id, x.lsn]));
}

describe("replay", () => {
  let f: PipelineFixture;
  let src: pg.Client;

  beforeAll(async () => {
    // One record per snapshot row: the replay's duplicates are checked per row (source.snapshot.bulk).
    f = await pipelineFixture(inject("stack"), "replay", { source: { snapshot: { bulk: false } } });
    src = await sourceClient(f);
    await src.query(`CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance numeric(18,4))`);
    await src.query(`INSERT INTO accounts SELECT i, 'owner ' || i, i FROM generate_series(1, 400) i`);
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
  });

  it("refuses while consumers run; after a reset to earliest the target is unchanged and hand-made damage is repaired", async () => {
    const producer = await f.start();
    let consumer = await f.startConsumer();
    await waitForEqual(f, src, [ACCOUNTS], [producer, consumer]); // the snapshot; the changes below are streamed
    await src.query(`UPDATE accounts SET balance = balance * 2 WHERE id % 3 = 0`);
    await src.query(`DELETE FROM accounts WHERE id % 10 = 0`);
    await src.query(`INSERT INTO accounts VALUES (10, 'back again', 1)`);
    await waitForEqual(f, src, [ACCOUNTS], [producer, consumer]);
    const before = await tableDigest(f.target, ACCOUNTS.name, ACCOUNTS.columns, ACCOUNTS.key);
    const lsnsBefore = await appliedLsns(f.target);

    const refused = replay(f.configFile, "--to-earliest");
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("REPLAY_GROUP_ACTIVE");
    expect(refused.err).toContain(f.group);

    expect(await consumer.stop()).toBe(0);
    // Damage by hand: a changed value, a removed row, and a row the stream deleted.
    await f.target.query(`UPDATE accounts SET balance = 0 WHERE id = 7`);
    await f.target.query(`DELETE FROM accounts WHERE id = 8`);
    await f.target.query(`INSERT INTO accounts (id, owner, balance) VALUES (20, 'deleted at the source', 0)`);

    const usage = replay(f.configFile);
    expect(usage.code).toBe(2);
    const reset = replay(f.configFile, "--to-earliest", "--json");
    expect(reset.err).toBe("");
    expect(reset.code).toBe(0);
    const resets = (JSON.parse(reset.out) as { resets: Array<{ to: string }> }).resets;
    expect(resets.length).toBe(3);
    expect(resets.every((r) => r.to === "0")).toBe(true);

    consumer = await f.startConsumer();
    const dataRecords = (await f.recordsRaw("public.accounts")).length;
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
    // The target held every change already, except row 8, removed by hand: its last record
    // is applied again. Row 7 (altered) is rewritten at the LSN it already had: a duplicate.
    expect(tallies.reduce((s, x) => s + (x.detail?.["applied"] ?? 0), 0)).toBe(1);

    await waitForEqual(f, src, [ACCOUNTS], [producer, consumer]);
    expect(await tableDigest(f.target, ACCOUNTS.name, ACCOUNTS.columns, ACCOUNTS.key)).toEqual(before);
    const lsnsAfter = await appliedLsns(f.target);
    expect(lsnsAfter).toEqual(lsnsBefore);
    await producer.stop();
  });
});
