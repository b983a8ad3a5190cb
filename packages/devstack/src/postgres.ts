// A private PostgreSQL cluster for the dev stack: initdb into the instance folder, started on
// a free loopback port with logical decoding on, one database created, password auth over TCP.
import { writeFile, chown } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import type { Logger } from "pino";
import { runTool } from "./run-tool.js";
import { freePort, LOOPBACK } from "./ports.js";
import { pollUntil } from "@zeroloss/errors";
import { findPostgresBinDir, postgresRunAs } from "./prereqs.js";
import type { Instance, ManagedProcess } from "./processes.js";
import type { Env } from "./paths.js";

export const DEV_PG_USER = "zeroloss";
export const DEV_PG_PASSWORD = "zeroloss";

export interface PostgresHandle {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The running postmaster; replaced by start() after a stop. */
  readonly process: ManagedProcess;
  /** For outage tests: "fast" (SIGINT: rolls back, checkpoints, exits) or "immediate" (SIGQUIT: no checkpoint, crash recovery at the next start). */
  stop(mode: "fast" | "immediate"): Promise<void>;
  /** Starts the stopped server again on its port and data, and waits until it accepts connections. */
  start(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Names the cluster in logs and its folder: `source`, `target`. */
  readonly name: string;
  readonly database: string;
  readonly env: Env;
  readonly log: Logger;
  readonly readyTimeoutMs?: number;
  /** Server settings on top of the dev defaults, e.g. `track_commit_timestamp` for bench/e2e's latency. */
  readonly settings?: Readonly<Record<string, string>>;
}

/** Settings for every dev cluster: logical decoding with room for many slots and test databases. */
const SERVER_SETTINGS: Readonly<Record<string, string>> = {
  wal_level: "logical",
  max_replication_slots: "32",
  max_wal_senders: "32",
  max_connections: "200",
  shared_buffers: "128MB",
  max_wal_size: "1GB",
  logging_collector: "off",
  log_min_messages: "warning",
  // A killed client's query is cancelled within a second instead of running to its end (and
  // holding its session, its locks and a test database's drop): PostgreSQL 14+.
  client_connection_check_interval: "1s",
};

export function postgresUrl(port: number, database: string, host: string = LOOPBACK): string {
  return `postgres://${DEV_PG_USER}:${DEV_PG_PASSWORD}@${host}:${port}/${database}`;
}

export async function startPostgres(instance: Instance, options: StartPostgresOptions): Promise<PostgresHandle> {
  const log = options.log.child({ service: `postgres-${options.name}` });
  const binDir = findPostgresBinDir(options.env);
  const runAs = postgresRunAs(options.env);
  const home = await instance.subdir(`pg-${options.name}`, runAs);
  const dataDir = join(home, "data");
  const pwFile = join(home, "pwfile");
  await writeFile(pwFile, `${DEV_PG_PASSWORD}\n`, { mode: 0o600 });
  if (runAs) await chown(pwFile, runAs.uid, runAs.gid);

  log.info({ binDir, runAs: runAs?.user }, "initdb");
  await runTool(
    join(binDir, "initdb"),
    ["-D", dataDir, "-U", DEV_PG_USER, `--pwfile=${pwFile}`, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"],
    { what: `initdb for the ${options.name} cluster`, env: { ...process.env, LC_ALL: "C" }, ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}) },
  );

  const port = await freePort();
  const settings = { ...SERVER_SETTINGS, ...options.settings, port: String(port), listen_addresses: LOOPBACK, unix_socket_directories: home };
  const spawnServer = () =>
    instance.spawn({
      name: `postgres-${options.name}`,
      command: join(binDir, "postgres"),
      args: ["-D", dataDir, ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])],
      stopSignal: "SIGINT", // fast shutdown: rolls back open transactions, checkpoints, exits
      logFile: join(home, "postgres.log"),
      ...(runAs ? { runAs } : {}),
    });
  let proc = await spawnServer();

  const adminUrl = postgresUrl(port, "postgres");
  const ready = () => pollUntil(
    async () => {
      const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2000 });
      await client.connect();
      try {
        const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [options.database]);
        if (exists.rowCount === 0) {
          await client.query(`CREATE DATABASE ${pg.escapeIdentifier(options.database)}`);
        }
      } finally {
        await client.end();
      }
      return true;
    },
    { timeoutMs: options.readyTimeoutMs ?? 60_000, what: `PostgreSQL ${options.name} on port ${port}`, abortIf: () => proc.assertRunning() },
  );
  await ready();
  const url = postgresUrl(port, options.database);
  log.info({ url, pid: proc.pid }, "ready");
  return {
    name: options.name,
    url,
    port,
    dataDir,
    get process() {
      return proc;
    },
    async stop(mode) {
      if (mode === "fast") return proc.stop();
      process.kill(proc.pid, "SIGQUIT"); // the postmaster tells every backend to quit at once
      await proc.exited;
    },
    async start() {
      proc = await spawnServer();
      await ready();
      log.info({ pid: proc.pid }, "started again");
    },
  };
}
