// PostgreSQL majors side by side: a source on the machine's 15 and a target on 18 from
// Maven Central (postgres-binaries.ts), each server started from its own bin folder in a
// private instance (no Kafka: the servers are what differs). The second request of a
// release finds it in the cache without downloading; versions the stack cannot run, or
// cannot choose (docker mode), are refused before anything starts.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pg from "pg";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { ensurePostgresBinaries, Instance, POSTGRES_RELEASES, startDevStack, startPostgres, type PostgresHandle } from "@zeroloss/devstack";
import { testLogger } from "../setup/logger.js";

const log = testLogger("pg-versions");
const root = mkdtempSync(join(tmpdir(), "zeroloss-pg-versions-"));
let instance: Instance | undefined;

afterAll(async () => {
  await instance?.stop({ keepFiles: false });
  rmSync(root, { recursive: true, force: true });
});

/** A logger whose lines are kept, to see whether a download was logged. */
function recordingLogger(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  return { log: pino({ level: "debug" }, sink), lines };
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe("PostgreSQL 15 source, 18 target", () => {
  let source: PostgresHandle;
  let target: PostgresHandle;
  let bin18: string;

  it("starts each server from its own binaries and reports its version", { timeout: 180_000 }, async () => {
    const started = Date.now();
    const [bin15, fetched18] = await Promise.all([ensurePostgresBinaries(15, { env: process.env, log }), ensurePostgresBinaries(18, { env: process.env, log })]);
    bin18 = fetched18;
    log.info({ seconds: (Date.now() - started) / 1000 }, "binaries ready");
    expect(bin18).not.toBe(bin15);
    instance = await Instance.create({ root, detached: false, log });
    [source, target] = await Promise.all([
      startPostgres(instance, { name: "source", database: "source", env: process.env, log, binDir: bin15 }),
      startPostgres(instance, { name: "target", database: "target", env: process.env, log, binDir: bin18 }),
    ]);
    expect(source.version).toMatch(/^15\.\d+$/);
    expect(target.version).toBe(POSTGRES_RELEASES[18].replace(/\.0$/, ""));
    const [s] = await query<{ server_version: string }>(source.url, "SHOW server_version");
    const [t] = await query<{ server_version: string }>(target.url, "SHOW server_version");
    expect(s?.server_version).toMatch(/^15\./);
    expect(t?.server_version).toMatch(/^18\./);
  });

  it("decodes logically on both: a pgoutput slot on the source, and on the 18 target", async () => {
    for (const server of [source, target]) {
      const slot = `pgv_${server.name}`;
      await query(server.url, "CREATE TABLE IF NOT EXISTS t (id int PRIMARY KEY, v text)");
      await query(server.url, "CREATE PUBLICATION pgv FOR TABLE t");
      const [created] = await query<{ slot_name: string }>(server.url, `SELECT slot_name FROM pg_create_logical_replication_slot('${slot}', 'pgoutput')`);
      expect(created?.slot_name).toBe(slot);
      await query(server.url, "INSERT INTO t VALUES (1, 'one')");
      const changes = await query<{ n: string }>(
        server.url,
        `SELECT count(*) AS n FROM pg_logical_slot_peek_binary_changes('${slot}', NULL, NULL, 'proto_version', '1', 'publication_names', 'pgv')`,
      );
      expect(Number(changes[0]?.n)).toBeGreaterThanOrEqual(3); // BEGIN, RELATION, INSERT, COMMIT
      await query(server.url, `SELECT pg_drop_replication_slot('${slot}')`);
    }
  });

  it("finds a release in the cache the second time, without downloading", async () => {
    const postgres = join(bin18, "postgres");
    const before = statSync(postgres).mtimeMs;
    const recorded = recordingLogger();
    expect(await ensurePostgresBinaries(18, { env: process.env, log: recorded.log })).toBe(bin18);
    expect(recorded.lines.join("")).toContain("PostgreSQL binaries from the cache");
    expect(recorded.lines.join("")).not.toContain("downloading");
    expect(statSync(postgres).mtimeMs).toBe(before);
  });
});

describe("versions refused before anything starts", () => {
  it("an unknown major, listing the supported ones", async () => {
    await expect(startDevStack({ env: { ...process.env, ZEROLOSS_DEVSTACK: "local", ZEROLOSS_SOURCE_URL: "", ZEROLOSS_TARGET_URL: "", ZEROLOSS_KAFKA_BROKERS: "" }, log, sourcePg: 14 })).rejects.toMatchObject({
      code: "STACK_CONFIG_INVALID",
      message: expect.stringContaining("15, 16, 17, 18"),
    });
  });

  it("any version in docker mode, whose image is fixed", async () => {
    await expect(startDevStack({ env: { ...process.env, ZEROLOSS_DEVSTACK: "docker", ZEROLOSS_SOURCE_URL: "", ZEROLOSS_TARGET_URL: "", ZEROLOSS_KAFKA_BROKERS: "" }, log, targetPg: 18 })).rejects.toMatchObject({
      code: "STACK_CONFIG_INVALID",
      message: expect.stringContaining("local mode only"),
    });
  });
});
