// PostgreSQL misbehaving under load: the source crashes (immediate shutdown: no checkpoint,
// crash recovery at restart, the slot may move back), the target goes away for a while, the
// producer's connection is cut, and the slot is lost while the producer is stopped. After
// each, with the server back, the four-part proof of harness.ts must hold: duplicates from
// a slot that moved back are absorbed, nothing is missing.
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import pg from "pg";
import { pollUntil } from "@zeroloss/devstack";
import type { VerifyReport } from "@zeroloss/wire";
import { updateConfig } from "../consumer/harness.js";
import { holdFault, progressed, scenario, seed, type FaultFixture } from "./harness.js";
import { TcpProxy } from "./proxy.js";
import { OUTAGE_MS, useFaultStack } from "./stack.js";

const EVENTS = "zeroloss_producer_events_total";
const APPLIED = "zeroloss_consumer_records_total";

const faultStack = useFaultStack();
const CLI = resolve(import.meta.dirname, "../../packages/cli/bin/zeroloss.js");

/** A `zeroloss` command (with only PATH from the environment: ZEROLOSS_* would override the config). */
function zeroloss(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env["PATH"] ?? "" }, timeout: 180_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolveRun({ code: err === null ? 0 : typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : -1, stdout, stderr });
    });
  });
}

/** The recovery step docs/operations.md gives after a re-snapshot: delete the rows the verifier finds only in the target. */
async function deleteExtraRows(f: FaultFixture): Promise<number> {
  const run = await zeroloss(["verify", "--config", f.configFile, "--json", "--no-progress"]);
  const report = JSON.parse(run.stdout) as VerifyReport;
  const target = new pg.Client({ connectionString: f.targetDb.url });
  await target.connect();
  let deleted = 0;
  try {
    for (const t of report.tables) {
      expect(t.problems, `${t.table}: ${t.problems.join("; ")}`).toEqual([]);
      // Only deletes can be missing after a re-snapshot: every other row it carried again.
      expect(t.rows.filter((r) => r.kind !== "extra"), `${t.table}: drift other than rows only in the target`).toEqual([]);
      expect(t.rows.length, `${t.table}: every drifted row listed`).toBe(t.driftRows);
      for (const row of t.rows) {
        const cols = Object.keys(row.key);
        const where = cols.map((c, i) => `${pg.escapeIdentifier(c)}::text = $${i + 1}`).join(" AND ");
        const [schema, table] = t.table.split(".") as [string, string];
        deleted += (await target.query(`DELETE FROM ${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table)} WHERE ${where}`, cols.map((c) => row.key[c]))).rowCount ?? 0;
      }
    }
  } finally {
    await target.end();
  }
  return deleted;
}

describe(`faults: PostgreSQL (seed ${seed})`, () => {
  it("the source crashes (immediate shutdown) and restarts", { timeout: 240_000 }, async () => {
    await scenario(
      faultStack(),
      "src_crash",
      async (f, load) => {
        await progressed(f.producer, EVENTS, 300, "the producer to stream under load");
        await faultStack().sourcePg.stop("immediate");
        await faultStack().sourcePg.start();
        await f.sourceBack();
        const committed = load.committed();
        await pollUntil(async () => (load.committed() >= committed + 100 ? true : undefined), { timeoutMs: 60_000, what: "the workload to commit again on the restarted source" });
        const after = (await f.producer.metric(EVENTS)) ?? 0;
        await progressed(f.producer, EVENTS, after + 300, "the producer to stream again from the restarted source");
      },
      {},
      { tolerateOutage: true },
    );
  });

  it(`the target is down for ${OUTAGE_MS / 1000} s (fast shutdown), then back`, { timeout: 180_000 + 4 * OUTAGE_MS }, async () => {
    await scenario(faultStack(), "tgt_down", async (f, load) => {
      const consumer = f.consumers[0]!;
      await progressed(consumer, APPLIED, 300, "the consumer to apply under load");
      await faultStack().targetPg.stop("fast");
      const committed = load.committed();
      try {
        await holdFault(OUTAGE_MS);
      } finally {
        await faultStack().targetPg.start();
      }
      expect(load.committed(), "the source kept taking writes while the target was down").toBeGreaterThan(committed);
      const applied = (await consumer.metric(APPLIED)) ?? 0;
      await progressed(consumer, APPLIED, applied + 300, "the consumer to apply again with the target back");
    });
  });

  it("the producer's connection to the source is cut in the middle of a large transaction", { timeout: 240_000 }, async () => {
    const proxy = await TcpProxy.start(faultStack().sourcePg.port);
    try {
      await scenario(
        faultStack(),
        "cut_conn",
        async (f) => {
          await progressed(f.producer, EVENTS, 300, "the producer to stream under load");
          const before = (await f.producer.metric(EVENTS)) ?? 0;
          // 20,000 rows in one source transaction, about 4 MB on the replication stream.
          const big = new pg.Client({ connectionString: f.db.url });
          await big.connect();
          try {
            await big.query("INSERT INTO transfers (from_id, to_id, amount, note) SELECT 1, 2, 0.01, repeat('large transaction ', 8) || g FROM generate_series(1, 20000) g");
          } finally {
            await big.end();
          }
          const mark = proxy.downstreamBytes;
          await pollUntil(async () => (proxy.downstreamBytes >= mark + 1_000_000 ? true : undefined), {
            timeoutMs: 60_000,
            intervalMs: 5,
            what: "the producer to have received part of the large transaction",
          });
          expect(proxy.cut(), "connections cut").toBeGreaterThan(0);
          await progressed(f.producer, EVENTS, before + 20_000, "the producer to reconnect and commit the large transaction");
        },
        {},
        { prepare: (f) => updateConfig(f, { source: { url: proxy.via(f.db.url) } }) },
      );
    } finally {
      await proxy.close();
    }
  });
  it("the slot is lost while the producer is stopped: a clear halt, then --resnapshot and the documented clean-up", { timeout: 300_000 }, async () => {
    const admin = new pg.Client({ connectionString: faultStack().source });
    await admin.connect();
    let extraRows = 0;
    try {
      await admin.query("ALTER SYSTEM SET max_slot_wal_keep_size = '64MB'");
      await admin.query("SELECT pg_reload_conf()");
      await scenario(
        faultStack(),
        "slot_lost",
        async (f, load) => {
          await progressed(f.producer, EVENTS, 300, "the producer to stream under load");
          expect(await f.producer.stop("SIGTERM")).toBe(0);
          // More WAL than max_slot_wal_keep_size: segment switches under the running
          // workload, then a checkpoint, which invalidates the slots left behind.
          await pollUntil(
            async () => {
              for (let i = 0; i < 5; i++) await f.src.query("SELECT pg_switch_wal()");
              await f.src.query("CHECKPOINT");
              const r = await f.src.query<{ wal_status: string }>("SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1", [f.slot]);
              return r.rows[0]?.wal_status === "lost" ? true : undefined;
            },
            { timeoutMs: 60_000, intervalMs: 500, what: `slot ${f.slot} to be lost` },
          );
          const lostAt = load.committed();

          // Detected: the producer refuses to start, saying what happened and what to do.
          f.producer = await f.start();
          expect(await f.producer.exitWithin(60_000)).toBe(1);
          expect(f.producer.output()).toContain("SLOT_INVALIDATED");
          expect(f.producer.output()).toContain("--resnapshot");
          const status = await zeroloss(["slot", "status", "--config", f.configFile]);
          expect(status.code, status.stdout + status.stderr).toBe(1);
          expect(status.stdout + status.stderr).toMatch(/lost/);
          expect(status.stdout + status.stderr).toContain("--resnapshot");

          // The documented way back, while the workload goes on.
          await f.renewWitness();
          f.producer = await f.start(["--resnapshot"]);
          await pollUntil(async () => ((await f.producer.health())?.body["status"] === "streaming" ? true : undefined), {
            timeoutMs: 120_000,
            what: "the re-snapshotting producer to stream",
            abortIf: () => {
              if (f.producer.proc.exitCode !== null) throw new Error(`the producer exited ${f.producer.proc.exitCode}:\n${f.producer.output().slice(-3000)}`);
            },
          });
          f.witnessFrom = (await f.src.query<{ lsn: string }>("SELECT pg_current_wal_insert_lsn()::text AS lsn")).rows[0]!.lsn;
          const after = (await f.producer.metric(EVENTS)) ?? 0;
          await progressed(f.producer, EVENTS, after + 300, "the producer to stream after the re-snapshot");
          expect(load.committed(), "the source kept taking writes through it all").toBeGreaterThan(lostAt);
        },
        {},
        {
          prepare: (f) => updateConfig(f, { verify: { maxReportedRows: 1_000_000 } }),
          beforeProof: async (f) => {
            await f.drain();
            extraRows = await deleteExtraRows(f);
          },
        },
      );
      // The workload deletes a transfer every tenth transaction: some fell in the lost window.
      expect(extraRows, "rows deleted at the source while the slot was lost").toBeGreaterThan(0);
    } finally {
      await admin.query("ALTER SYSTEM RESET max_slot_wal_keep_size");
      await admin.query("SELECT pg_reload_conf()");
      await admin.end();
    }
  });
});
