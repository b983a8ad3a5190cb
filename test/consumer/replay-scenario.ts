// The replay scenario two tests share (replay.test.ts through `zeroloss replay`,
// offset-reset-kafka-tool.test.ts through Kafka's own kafka-consumer-groups): a table
// streamed with updates and deletes, the target damaged by hand while the consumer is
// stopped, and after the group's offsets go back to the start, every data record re-read
// (written tallies marked replay), the damage repaired, and the target as it was: same
// content, same applied LSNs.
import type pg from "pg";
import { expect } from "vitest";
import { pollUntil } from "@zeroloss/devstack";
import { readToEnd } from "@zeroloss/kafka";
import { decodeTally, topicNames, type Tally } from "@zeroloss/wire";
import type { RunningProducer } from "../producer/harness.js";
import { tableDigest, waitForEqual, type PipelineFixture, type TableSpec } from "./harness.js";

export const ACCOUNTS: TableSpec = { name: "public.accounts", columns: ["id", "owner", "balance"], key: ["id"] };


export async function createAccounts(src: pg.Client, rows: number): Promise<void> {
  await src.query(`CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance numeric(18,4))`);
  await src.query(`INSERT INTO accounts SELECT i, 'owner ' || i, i FROM generate_series(1, $1::int) i`, [rows]);
}

async function appliedLsns(client: pg.Client): Promise<Map<string, string>> {
  const r = await client.query<{ id: string; lsn: string }>(`SELECT id, _zeroloss_lsn::text AS lsn FROM accounts`);
  return new Map(r.rows.map((x) => [x.id, x.lsn]));
}

export interface StreamedState {
  readonly digest: Map<string, string>;
  readonly lsns: Map<string, string>;
}

/** The snapshot, then updates, deletes and a re-insert streamed; the target's state once equal to the source. */
export async function streamChanges(f: PipelineFixture, src: pg.Client, services: RunningProducer[]): Promise<StreamedState> {
  await waitForEqual(f, src, [ACCOUNTS], services); // the snapshot; the changes below are streamed
  await src.query(`UPDATE accounts SET balance = balance * 2 WHERE id % 3 = 0`);
  await src.query(`DELETE FROM accounts WHERE id % 10 = 0`);
  await src.query(`INSERT INTO accounts VALUES (10, 'back again', 1)`);
  await waitForEqual(f, src, [ACCOUNTS], services);
  return { digest: await tableDigest(f.target, ACCOUNTS.name, ACCOUNTS.columns, ACCOUNTS.key), lsns: await appliedLsns(f.target) };
}

/** Damage by hand (the consumer stopped): a changed value, a removed row, and a row the stream deleted. */
export async function damageTarget(f: PipelineFixture): Promise<void> {
  await f.target.query(`UPDATE accounts SET balance = 0 WHERE id = 7`);
  await f.target.query(`DELETE FROM accounts WHERE id = 8`);
  await f.target.query(`INSERT INTO accounts (id, owner, balance) VALUES (20, 'deleted at the source', 0)`);
}

/** After the reset and a consumer restart: every data record replayed, the damage repaired, the target as `before`. */
export async function expectReplayed(f: PipelineFixture, src: pg.Client, services: RunningProducer[], before: StreamedState): Promise<void> {
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

  await waitForEqual(f, src, [ACCOUNTS], services);
  expect(await tableDigest(f.target, ACCOUNTS.name, ACCOUNTS.columns, ACCOUNTS.key)).toEqual(before.digest);
  expect(await appliedLsns(f.target)).toEqual(before.lsns);
}
