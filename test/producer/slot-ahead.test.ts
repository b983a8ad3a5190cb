// DESIGN.md invariant 10, "Fail closed". A healthy producer never acknowledges a position
// it has not made durable in Kafka, so its slot's confirmed flush LSN never passes its last
// checkpoint, even when it sits idle and only keepalives and heartbeats move the slot on.
// A slot moved ahead of the checkpoint from outside (pg_replication_slot_advance while the
// producer was stopped) stops the next start with SLOT_AHEAD_OF_CHECKPOINT, `zeroloss slot
// status` says so, and only an explicit --accept-slot-gap streams on over the gap.
// One fixture for all three: each step starts from where the previous one left the slot.
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { pollUntil } from "@zeroloss/devstack";
import { parseLsn } from "@zeroloss/pg";
import type { Checkpoint } from "@zeroloss/wire";
import { producerFixture, waitForRecords, type ProducerFixture, type RunningProducer } from "./harness.js";

const stack = inject("stack");
const CLI = resolve(import.meta.dirname, "../../packages/cli/bin/zeroloss.js");
const NO_STACK_TRACE = /^\s+at /m;

interface CliRun {
  readonly proc: ChildProcess;
  output(): string;
  stdout(): string;
  finished(timeoutMs?: number): Promise<number>;
}

/** `zeroloss …` as an operator runs it; ZEROLOSS_* variables would override the fixture's config file. */
function cli(args: string[]): CliRun {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("ZEROLOSS_")));
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"], env });
  let stdout = "";
  let all = "";
  let closed: number | undefined;
  proc.stdout?.on("data", (d: Buffer) => ((stdout += d.toString()), (all += d.toString())));
  proc.stderr?.on("data", (d: Buffer) => (all += d.toString()));
  proc.once("close", (code, signal) => (closed = code ?? (signal === null ? -1 : 128)));
  return {
    proc,
    output: () => all,
    stdout: () => stdout,
    finished: (timeoutMs = 60_000) => pollUntil(async () => closed, { timeoutMs, intervalMs: 100, what: `zeroloss ${args.join(" ")} to exit (output so far:\n${all})` }),
  };
}

describe("producer: slot and checkpoint (fail closed)", () => {
  let f: ProducerFixture;
  let producer: RunningProducer | undefined;
  let cliProducer: CliRun | undefined;

  /** The producer's newest checkpoint in Kafka (read_committed). */
  const lastCheckpoint = async (): Promise<Checkpoint> => {
    const all = (await f.checkpoints()).filter((c) => c.slot === f.slot);
    const last = all[all.length - 1];
    if (last === undefined) throw new Error("no checkpoint in Kafka");
    return last;
  };
  const currentLsn = async (): Promise<string> => (await f.sql.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn")).rows[0]?.lsn as string;
  const slotLsn = async (): Promise<string> => {
    const lsn = await f.confirmedFlush();
    if (lsn === null) throw new Error(`slot ${f.slot} has no confirmed flush LSN`);
    return lsn;
  };

  beforeAll(async () => {
    // heartbeatSeconds 1: an idle stream emits heartbeats and answers keepalives within the test's time.
    f = await producerFixture(stack, "slotgap", { source: { tables: ["public.items"], heartbeatSeconds: 1 } });
    await f.sql.query(`CREATE TABLE public.items (id int PRIMARY KEY, v text)`);
    await f.sql.query(`CREATE TABLE public.noise (id serial PRIMARY KEY, blob text)`); // not published
    await f.sql.query(`INSERT INTO public.items SELECT g, 'v' || g FROM generate_series(1, 5) g`);
  });

  afterAll(async () => {
    if (cliProducer !== undefined && cliProducer.proc.exitCode === null && cliProducer.proc.signalCode === null) {
      cliProducer.proc.kill("SIGTERM");
      await cliProducer.finished(30_000).catch(() => cliProducer?.proc.kill("SIGKILL"));
    }
    await producer?.stop();
    await f?.close();
  });

  it("a healthy run left idle: the slot moves on, yet never past the last checkpoint in Kafka", async () => {
    producer = await f.start();
    await waitForRecords(f, "public.items", 5, producer);
    await f.sql.query(`INSERT INTO public.items VALUES (6, 'v6')`);
    await waitForRecords(f, "public.items", 6, producer);
    // Only unpublished changes from here on: keepalives and heartbeats are all that can move the slot.
    await f.sql.query(`INSERT INTO public.noise (blob) SELECT repeat('n', 200) FROM generate_series(1, 5000)`);
    const target = await currentLsn();
    await pollUntil(async () => (parseLsn(await slotLsn()) >= parseLsn(target) ? true : undefined), {
      timeoutMs: 60_000,
      what: `the idle stream to move the slot past ${target}`,
      abortIf: () => {
        if (producer?.proc.exitCode !== null) throw new Error(`producer exited:\n${producer?.output()}`);
      },
    });
    // At most about one checkpoint-only Kafka transaction per second while idle.
    const before = (await f.checkpoints()).length;
    const idleFrom = Date.now();
    await pollUntil(async () => (Date.now() - idleFrom >= 4_000 ? true : undefined), { timeoutMs: 10_000, what: "4 s of idling" });
    const idleCheckpoints = (await f.checkpoints()).length - before;
    expect(idleCheckpoints).toBeLessThanOrEqual(Math.ceil((Date.now() - idleFrom) / 1000) + 1);

    expect(await producer.stop()).toBe(0);
    const slot = await slotLsn();
    const checkpoint = await lastCheckpoint();
    expect(checkpoint.phase).toBe("streaming");
    expect(parseLsn(slot), `slot ${slot} must not be ahead of the checkpoint ${checkpoint.lsn}`).toBeLessThanOrEqual(parseLsn(checkpoint.lsn));
    expect(parseLsn(checkpoint.lsn)).toBeGreaterThanOrEqual(parseLsn(target));
    // And so `zeroloss slot status` finds nothing wrong.
    const status = cli(["slot", "status", "--config", f.configFile, "--json"]);
    expect(await status.finished(), status.output()).toBe(0);
    const json = JSON.parse(status.stdout()) as { advice: string[] };
    expect(json).toMatchObject({ exists: true, checkpointPhase: "streaming", checkpointLsn: checkpoint.lsn, aheadBytes: null });
    expect(json.advice.join("\n")).not.toMatch(/ahead/); // only that no process reads the slot
  });

  it("a slot advanced while the producer was stopped: SLOT_AHEAD_OF_CHECKPOINT naming both positions, and slot status exits 3", async () => {
    await f.sql.query(`INSERT INTO public.items SELECT g, 'lost' || g FROM generate_series(101, 110) g`);
    await f.sql.query(`SELECT pg_replication_slot_advance($1, pg_current_wal_lsn())`, [f.slot]);
    const slot = await slotLsn();
    const checkpoint = (await lastCheckpoint()).lsn;
    expect(parseLsn(slot)).toBeGreaterThan(parseLsn(checkpoint));
    const bytes = String(parseLsn(slot) - parseLsn(checkpoint));

    producer = await f.start();
    expect(await producer.exitWithin(90_000)).toBe(1);
    const out = producer.output();
    expect(out).toMatch(/^zeroloss producer: error \[SLOT_AHEAD_OF_CHECKPOINT\]: /m);
    for (const s of [f.slot, slot, checkpoint, `${bytes} bytes`, "--resnapshot", "--accept-slot-gap"]) expect(out).toContain(s);
    expect(out).not.toMatch(NO_STACK_TRACE);
    expect(await slotLsn()).toBe(slot); // nothing acknowledged

    const json = cli(["slot", "status", "--config", f.configFile, "--json"]);
    expect(await json.finished(), json.output()).toBe(3);
    const status = JSON.parse(json.stdout()) as { confirmedFlushLsn: string; checkpointLsn: string; aheadBytes: number; advice: string[] };
    expect(status).toMatchObject({ confirmedFlushLsn: slot, checkpointLsn: checkpoint, aheadBytes: Number(bytes) });
    expect(status.advice[0]).toContain(slot);
    expect(status.advice[0]).toContain(checkpoint);
    expect(status.advice.join("\n")).toContain(`zeroloss producer --config ${f.configFile} --resnapshot`);
    expect(status.advice.join("\n")).toContain("--accept-slot-gap");
    const text = cli(["slot", "status", "--config", f.configFile]);
    expect(await text.finished()).toBe(3);
    expect(text.stdout()).toMatch(new RegExp(`^producer checkpoint +${checkpoint.replace("/", "\\/")}$`, "m"));
    expect(text.stdout()).toMatch(/^! .*ahead of the producer's checkpoint/m);
  });

  it("zeroloss producer --accept-slot-gap logs the accepted gap and streams on from the slot", async () => {
    const slot = await slotLsn();
    const checkpoint = (await lastCheckpoint()).lsn;
    cliProducer = cli(["producer", "--config", f.configFile, "--accept-slot-gap"]);
    const running = cliProducer;
    await f.sql.query(`INSERT INTO public.items VALUES (200, 'after')`);
    const records = await pollUntil(
      async () => {
        const recs = await f.records("public.items");
        return recs.some((r) => r.envelope.after?.["id"] === "200") ? recs : undefined;
      },
      {
        timeoutMs: 90_000,
        what: "the row inserted after the accepted gap to reach Kafka",
        abortIf: () => {
          if (running.proc.exitCode !== null) throw new Error(`zeroloss producer exited with ${running.proc.exitCode}:\n${running.output()}`);
        },
      },
    );
    // What the gap held is gone, as accepted: only the row after it arrived.
    expect(records.map((r) => Number(r.envelope.after?.["id"])).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 200]);
    const out = running.output();
    expect(out).toMatch(/accept/i);
    expect(out).toContain(slot);
    expect(out).toContain(checkpoint);
    expect(out).toMatch(/lost/);
    // The acceptance is durable: the checkpoint moved to the slot's position, so slot status is clean again.
    expect(parseLsn((await lastCheckpoint()).lsn)).toBeGreaterThanOrEqual(parseLsn(slot));
    const status = cli(["slot", "status", "--config", f.configFile, "--json"]);
    expect(await status.finished(), status.output()).toBe(0);
    running.proc.kill("SIGTERM");
    expect(await running.finished(60_000), running.output()).toBe(0);
    expect(parseLsn(await slotLsn())).toBeLessThanOrEqual(parseLsn((await lastCheckpoint()).lsn));
  });
});
