// `zeroloss cutover` end to end, through the real CLI, on the demo's payments schema (foreign
// keys, identity sequences) created on both sides, with producer, consumer and counter
// running as real processes and the application writing as its own login role:
//   0. --rehearse while the application writes: drained and verified, nothing fenced or signed;
//   1. --fence read-only under load, killed in the drain (the consumer is stopped), then run
//      again: it resumes, the source refuses the application role's writes, exit 0, the
//      certificate verifies and holds the fence, counter, verifier, sequences and foreign
//      keys; an insert on the target after the cutover takes a new id; a changed byte fails
//      verification and a changed target row fails --recheck, naming the table;
//   2. --abort lifts the fence: the application role writes again;
//   3. a record quarantined before the fence: --fence wait exits 1 and names it.
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { pollUntil, urlAsRole } from "@zeroloss/devstack";
import { createSchema, loadBacklog } from "../../packages/cli/src/commands/demo/schema.js";
import { runWorkload } from "../../packages/cli/src/commands/demo/workload.js";
import { counterFixture, type CounterFixture, type RunningCounter } from "../counter/harness.js";
import { updateConfig } from "../consumer/harness.js";
import type { RunningProducer } from "../producer/harness.js";
import { CLI, cleanEnv, runCli } from "./run-cli.js";

const stack = inject("stack");
const ACCOUNTS = 200;

interface CutoverCert {
  proven: boolean;
  tables: { table: string; equal: boolean; source: { rows: number } }[];
  cutover: {
    fence: { mode: string; roles: string[]; lsn: string; held: boolean };
    counter: { records: { emitted: number; transferred: number; applied: number; duplicate: number; quarantined: number } };
    quarantined: number;
    verifier: { result: string; tables: number };
    sequences: { sequence: string; sourceNext: string | null; targetAfter: string | null; action: string }[];
    constraints: { table: string; constraint: string; orphans: number; valid: boolean }[];
  };
}

/** The application: the demo's workload as the application role, over and over, counting what the source refused. */
function application(url: string) {
  let stop = false;
  let committed = 0;
  const refused: string[] = [];
  const done = (async () => {
    while (!stop) {
      try {
        committed += (await runWorkload({ url, accounts: ACCOUNTS, rate: 60, seconds: 1, connections: 2, stopped: () => stop })).transactions;
      } catch (err) {
        const cause = (err as { cause?: { code?: string; details?: { sqlstate?: string } } }).cause;
        refused.push(cause?.details?.sqlstate ?? cause?.code ?? (err as Error).message);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  })();
  return { committed: () => committed, refused, stop: async () => ((stop = true), await done) };
}

describe("zeroloss cutover", () => {
  const dir = mkdtempSync(join(tmpdir(), "zeroloss-cutover-"));
  const keys = join(dir, "keys");
  const role = `pay_app_${randomBytes(3).toString("hex")}`;
  let f: CounterFixture;
  let consumer: RunningProducer;
  let counter: RunningCounter;
  let appUrl: string;

  const zeroloss = (args: string[], timeoutMs = 240_000) => runCli(args, timeoutMs);
  const appInsert = async () => {
    const c = new pg.Client({ connectionString: appUrl });
    await c.connect();
    try {
      await c.query("UPDATE accounts SET profile = profile || '{\"touched\": true}' WHERE id = 1");
      return "ok";
    } catch (err) {
      return String((err as { code?: string }).code);
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    f = await counterFixture(stack, "cutover", { source: { tables: ["public.*"] }, tallies: { windowSize: 500 } });
    // The schema on both sides, as a migration team sets up its target: foreign keys and identity columns included.
    await createSchema(f.sql);
    await createSchema(f.target);
    await loadBacklog(f.sql, { accounts: ACCOUNTS, payments: 2_000 });
    await f.sql.query(`CREATE ROLE ${role} LOGIN PASSWORD 'app-secret'`);
    await f.sql.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
    await f.sql.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
    appUrl = urlAsRole(f.db.url, role, "app-secret");
    expect((await zeroloss(["certificate", "keygen", "--out-dir", keys])).code).toBe(0);
    await f.start();
    consumer = await f.startConsumer();
    counter = await f.startCounter();
    updateConfig(f, { counter: { http: { port: counter.port, host: "127.0.0.1" } } });
  });

  afterAll(async () => {
    await f?.close();
    const admin = new pg.Client({ connectionString: stack.source });
    await admin.connect();
    await admin.query(`DROP ROLE IF EXISTS ${role}`).finally(() => admin.end());
    rmSync(dir, { recursive: true, force: true });
  });

  it("--rehearse drains to the moving source's position and verifies, fencing and signing nothing", async () => {
    const app = application(appUrl);
    try {
      await pollUntil(async () => (app.committed() >= 20 && (await f.confirmedFlush()) !== null ? true : undefined), { timeoutMs: 60_000, what: "the application's first transactions, and the producer's slot" });
      const r = await zeroloss(["cutover", "--config", f.configFile, "--rehearse", "--dir", join(dir, "rehearsal")]);
      expect(r.stdout, r.stderr).toContain("REHEARSAL OK: drained to");
      expect(r.code, r.stderr).toBe(0);
      const during = app.committed();
      await pollUntil(async () => (app.committed() > during ? true : undefined), { timeoutMs: 30_000, what: "the application to go on writing" });
    } finally {
      await app.stop();
    }
    expect(app.refused).toEqual([]);
    const files = readdirSync(join(dir, "rehearsal"));
    expect(files.filter((x) => x.startsWith("state-rehearsal-"))).toHaveLength(1);
    expect(files).not.toContain("certificate.json");
    expect(files).not.toContain("state.json");
  });

  const cut1 = () => join(dir, "cut1");
  const cutoverArgs = () => ["cutover", "--config", f.configFile, "--fence", "read-only", "--app-role", role, "--private-key", join(keys, "private.pem"), "--dir", cut1(), "--quiet-seconds", "2"];

  it("refuses to fence the role zeroloss connects as, changing nothing; the next run with other roles begins afresh", async () => {
    const own = decodeURIComponent(new URL(f.db.url).username);
    const r = await zeroloss(["cutover", "--config", f.configFile, "--fence", "read-only", "--app-role", own, "--private-key", join(keys, "private.pem"), "--dir", cut1()]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain("FENCE_ROLE_SELF");
    expect(r.stderr).not.toContain("The source stays fenced");
    expect(await appInsert()).toBe("ok");
  });

  it("fences the application under load, resumes after being killed in the drain, and proves the cut", async () => {
    const app = application(appUrl);
    await pollUntil(async () => (app.committed() >= 30 ? true : undefined), { timeoutMs: 60_000, what: "the application's first transactions" });

    // The consumer stops: the drain cannot finish, and the cutover is killed there.
    await consumer.stop("SIGTERM");
    const killed = spawn(process.execPath, [CLI, ...cutoverArgs()], { stdio: ["ignore", "pipe", "pipe"], env: cleanEnv() });
    let firstOutput = "";
    killed.stderr.on("data", (d: Buffer) => (firstOutput += d.toString()));
    const statePath = join(cut1(), "state.json");
    await pollUntil(
      async () => {
        if (killed.exitCode !== null) throw new Error(`the cutover ended early (${killed.exitCode}):\n${firstOutput}`);
        if (!existsSync(statePath)) return undefined;
        const state = JSON.parse(readFileSync(statePath, "utf8")) as { done: Record<string, string> };
        return state.done.fence !== undefined && firstOutput.includes("waiting for") ? true : undefined;
      },
      { timeoutMs: 120_000, what: "the cutover to fence and wait in the drain" },
    );
    killed.kill("SIGKILL");
    expect(firstOutput).toContain("set no fence; beginning again with these options");
    await app.stop();
    // The fence outlives the killed cutover: the application role's sessions are read-only.
    expect(await appInsert()).toBe("25006");
    expect(app.refused.some((code) => code === "25006" || code === "57P01")).toBe(true);

    consumer = await f.startConsumer();
    const r = await zeroloss(cutoverArgs());
    expect(r.stderr).toContain("resuming the cutover");
    expect(r.stdout).toContain("PROVEN");
    expect(r.code, r.stderr).toBe(0);

    expect(await appInsert()).toBe("25006");
    const cert = JSON.parse(readFileSync(join(cut1(), "certificate.json"), "utf8")) as CutoverCert;
    expect(cert.proven).toBe(true);
    expect(cert.tables.map((t) => [t.table, t.equal])).toEqual([
      ["public.accounts", true],
      ["public.ledger_entries", true],
      ["public.payments", true],
    ]);
    expect(cert.cutover.fence).toMatchObject({ mode: "read-only", roles: [role], held: true });
    expect(cert.cutover.quarantined).toBe(0);
    expect(cert.cutover.verifier).toMatchObject({ result: "equal", tables: 3 });
    const c = cert.cutover.counter.records;
    expect(c.emitted).toBeGreaterThan(0);
    expect([c.transferred, c.applied + c.duplicate, c.quarantined]).toEqual([c.emitted, c.emitted, 0]);
    expect(cert.cutover.constraints.map((k) => k.constraint).sort()).toEqual([
      "ledger_entries_account_id_fkey",
      "ledger_entries_payment_id_fkey",
      "payments_from_account_fkey",
      "payments_to_account_fkey",
    ]);
    expect(cert.cutover.constraints.every((k) => k.valid && k.orphans === 0)).toBe(true);
    expect(cert.cutover.sequences.map((s) => s.sequence).sort()).toEqual(["public.ledger_entries_id_seq", "public.payments_id_seq"]);

    // The target takes over: a new payment there gets an id past every id the source gave out.
    const sourceMax = (await f.sql.query<{ m: string }>("SELECT max(id)::text AS m FROM payments")).rows[0]?.m ?? "0";
    const inserted = await f.target.query<{ id: string }>(
      `INSERT INTO payments (from_account, to_account, amount, currency, status, created_at, updated_at, risk)
       VALUES (1, 2, 10, 'EUR', 'pending', now(), now(), '{}') RETURNING id::text`,
    );
    expect(BigInt(inserted.rows[0]?.id ?? "0")).toBeGreaterThan(BigInt(sourceMax));
    expect(readFileSync(join(cut1(), "certificate.html"), "utf8")).toContain("Foreign keys on the target");

    const pub = join(keys, "public.pem");
    const verified = await zeroloss(["certificate", "verify", join(cut1(), "certificate.json"), "--public-key", pub]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const tampered = join(dir, "tampered.json");
    writeFileSync(tampered, readFileSync(join(cut1(), "certificate.json"), "utf8").replace(`"quarantined": 0`, `"quarantined": 1`));
    expect((await zeroloss(["certificate", "verify", tampered, "--public-key", pub])).code).toBe(1);

    // The row inserted above changed the target's payments: --recheck names that table alone.
    const recheck = await zeroloss(["certificate", "verify", join(cut1(), "certificate.json"), "--public-key", pub, "--recheck", "--config", f.configFile]);
    expect(recheck.code).toBe(1);
    expect(recheck.stdout).toContain("recheck FAILED: 1 table(s) no longer match the certificate: public.payments");
  });

  it("--abort lifts the read-only fence: the application role writes again", async () => {
    const r = await zeroloss(["cutover", "--config", f.configFile, "--abort", "--dir", cut1()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("fence lifted");
    expect(await appInsert()).toBe("ok");
  });

  it("refuses to prove a cut while a record is quarantined, naming it", async () => {
    // A record no producer wrote, in the payments topic: the consumer quarantines it.
    const producerOfGarbage = f.kafka.producer();
    await producerOfGarbage.connect();
    await producerOfGarbage.send({ topic: `${f.prefix}.public.payments`, messages: [{ key: "{\"id\":\"1\"}", value: "not an envelope" }] });
    await producerOfGarbage.disconnect();
    await pollUntil(async () => ((await f.target.query<{ n: string }>("SELECT count(*)::text AS n FROM zeroloss.quarantine")).rows[0]?.n === "1" ? true : undefined), {
      timeoutMs: 60_000,
      what: "the consumer to quarantine the record",
    });
    const r = await zeroloss(["cutover", "--config", f.configFile, "--fence", "wait", "--private-key", join(keys, "private.pem"), "--dir", join(dir, "cut2"), "--quiet-seconds", "1"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/NOT proven: .*1 record\(s\) quarantined in the target's zeroloss\.quarantine, never applied: .+ at \S+\.public\.payments\[\d+\] offset \d+: WIRE_\w+/);
    expect(existsSync(join(dir, "cut2", "certificate.json"))).toBe(false);
  });
});
