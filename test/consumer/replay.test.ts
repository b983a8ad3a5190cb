// Replay by offset reset: `zeroloss replay` refuses while the group has members, resets to
// earliest once it is empty, and the consumer applies everything again: the target ends
// identical (same content, same applied LSNs), rows altered or removed by hand in the
// target are repaired, and the written tallies of the replayed records say so.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { pipelineFixture, sourceClient, type PipelineFixture } from "./harness.js";
import { createAccounts, damageTarget, expectReplayed, streamChanges } from "./replay-scenario.js";

const CLI = resolve(import.meta.dirname, "../../packages/cli/bin/zeroloss.js");

function replay(configFile: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, "replay", "--config", configFile, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("replay", () => {
  let f: PipelineFixture;
  let src: pg.Client;

  beforeAll(async () => {
    // One record per snapshot row: the replay's duplicates are checked per row (source.snapshot.bulk).
    f = await pipelineFixture(inject("stack"), "replay", { source: { snapshot: { bulk: false } } });
    src = await sourceClient(f);
    await createAccounts(src, 400);
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
  });

  it("refuses while consumers run; after a reset to earliest the target is unchanged and hand-made damage is repaired", async () => {
    const producer = await f.start();
    let consumer = await f.startConsumer();
    const before = await streamChanges(f, src, [producer, consumer]);

    const refused = replay(f.configFile, "--to-earliest");
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("REPLAY_GROUP_ACTIVE");
    expect(refused.err).toContain(f.group);

    expect(await consumer.stop()).toBe(0);
    await damageTarget(f);

    const usage = replay(f.configFile);
    expect(usage.code).toBe(2);
    const reset = replay(f.configFile, "--to-earliest", "--json");
    expect(reset.err).toBe("");
    expect(reset.code).toBe(0);
    const resets = (JSON.parse(reset.out) as { resets: Array<{ to: string }> }).resets;
    expect(resets.length).toBe(3);
    expect(resets.every((r) => r.to === "0")).toBe(true);

    consumer = await f.startConsumer();
    await expectReplayed(f, src, [producer, consumer], before);
    await producer.stop();
  });
});
