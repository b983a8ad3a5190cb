// A private PostgreSQL cluster for the dev stack: initdb into the instance folder, started on
// a free loopback port with logical decoding on, one database created, password auth over TCP.
import { chmod, chown, copyFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import type { Logger } from "pino";
import { runTool } from "./run-tool.js";
import { freePort, LOOPBACK } from "./ports.js";
import { pollUntil } from "@zeroloss/errors";
import { findPostgresBinDir, postgresRunAs } from "./prereqs.js";
import type { Instance, ManagedProcess } from "./processes.js";
import type { Env } from "./paths.js";
import type { DevCertificates } from "./certs.js";

export const DEV_PG_USER = "zeroloss";
// Not the product's name: every process hides its passwords from what it prints (keepSecret).
export const DEV_PG_PASSWORD = "zeroloss-dev";

export interface PostgresHandle {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** `SHOW server_version` once it was ready: "15.14", "18.7". */
  readonly version: string;
  /** The bin folder its initdb and postgres came from. */
  readonly binDir: string;
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
  /**
   * TLS only (`zeroloss dev up --secure`): ssl on with the dev certificates, every TCP
   * connection `hostssl` (a plaintext one is refused) with a client certificate signed by the
   * dev CA; the URL asks for sslmode=verify-full against the dev CA and carries the client's.
   */
  readonly tls?: DevCertificates;
  /** The superuser's password; default DEV_PG_PASSWORD. */
  readonly password?: string;
  /** The server binaries (postgres-binaries.ts ensurePostgresBinaries); default the machine's (findPostgresBinDir). */
  readonly binDir?: string;
}

/** pg_hba.conf of a TLS-only cluster: sockets in the instance folder trusted; TCP only over TLS, with a password and a client certificate the dev CA signed. */
const TLS_ONLY_HBA = `# Written by @zeroloss/devstack: TCP connections over TLS only.
local all all trust
local replication all trust
hostssl all all ${LOOPBACK}/32 scram-sha-256 clientcert=verify-ca
hostssl replication all ${LOOPBACK}/32 scram-sha-256 clientcert=verify-ca
`;

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

/** A dev cluster's URL; with `tls`, verify-full against the dev CA and the dev client certificate. */
export function postgresUrl(port: number, database: string, host: string = LOOPBACK, tls?: DevCertificates, password: string = DEV_PG_PASSWORD): string {
  const q = (k: string, v: string) => `${k}=${encodeURIComponent(v)}`;
  const tlsQuery = tls === undefined ? "" : `?${["sslmode=verify-full", q("sslrootcert", tls.caFile), q("sslcert", tls.clientCertFile), q("sslkey", tls.clientKeyFile)].join("&")}`;
  return `postgres://${DEV_PG_USER}:${encodeURIComponent(password)}@${host}:${port}/${database}${tlsQuery}`;
}

export async function startPostgres(instance: Instance, options: StartPostgresOptions): Promise<PostgresHandle> {
  const log = options.log.child({ service: `postgres-${options.name}` });
  const binDir = options.binDir ?? findPostgresBinDir(options.env);
  const runAs = postgresRunAs(options.env);
  const home = await instance.subdir(`pg-${options.name}`, runAs);
  const dataDir = join(home, "data");
  const pwFile = join(home, "pwfile");
  const password = options.password ?? DEV_PG_PASSWORD;
  await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  if (runAs) await chown(pwFile, runAs.uid, runAs.gid);

  log.info({ binDir, runAs: runAs?.user }, "initdb");
  await runTool(
    join(binDir, "initdb"),
    ["-D", dataDir, "-U", DEV_PG_USER, `--pwfile=${pwFile}`, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"],
    { what: `initdb for the ${options.name} cluster`, env: { ...process.env, LC_ALL: "C" }, ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}) },
  );

  let tlsSettings: Record<string, string> = {};
  if (options.tls !== undefined) {
    // The server reads its key only when it owns it and nobody else may read it.
    const own = async (name: string, from: string) => {
      const to = join(home, name);
      await copyFile(from, to);
      await chmod(to, 0o600);
      if (runAs) await chown(to, runAs.uid, runAs.gid);
      return to;
    };
    tlsSettings = {
      ssl: "on",
      ssl_cert_file: await own("server.pem", options.tls.serverCertFile),
      ssl_key_file: await own("server.key", options.tls.serverKeyFile),
      ssl_ca_file: await own("ca.pem", options.tls.caFile),
    };
    await writeFile(join(dataDir, "pg_hba.conf"), TLS_ONLY_HBA);
    if (runAs) await chown(join(dataDir, "pg_hba.conf"), runAs.uid, runAs.gid);
  }
  const port = await freePort();
  const settings = { ...SERVER_SETTINGS, ...options.settings, ...tlsSettings, port: String(port), listen_addresses: LOOPBACK, unix_socket_directories: home };
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

  const adminUrl = postgresUrl(port, "postgres", LOOPBACK, options.tls, password);
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
  const url = postgresUrl(port, options.database, LOOPBACK, options.tls, password);
  const version = await serverVersion(adminUrl);
  log.info({ url, pid: proc.pid, version }, "ready");
  return {
    name: options.name,
    url,
    port,
    dataDir,
    version,
    binDir,
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

/** `SHOW server_version` of the server at `url`: "15.14", "18.7". */
export async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const r = await client.query<{ server_version: string }>("SHOW server_version");
    return (r.rows[0]?.server_version ?? "").split(" ")[0] ?? "";
  } finally {
    await client.end();
  }
}
