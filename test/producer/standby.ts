// A PostgreSQL primary and a physical standby that syncs failover slots (PostgreSQL 17+), for
// the failover-slot test. The primary is devstack's startPostgres with the bin dir given; the
// standby is made without pg_basebackup (the binaries the tests use have none): the primary is
// stopped cleanly, its data directory copied with ownership kept, standby.signal written, and
// the standby started with primary_conninfo (with a dbname: slot sync connects to a database),
// primary_slot_name, hot_standby_feedback and sync_replication_slots on its command line.
import { execFile } from "node:child_process";
import { stat, writeFile, chown, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import type { Logger } from "pino";
import { freePort, pollUntil, startPostgres, type Instance, type ManagedProcess, type PostgresHandle } from "@zeroloss/devstack";

const run = promisify(execFile);

/** The physical slot the standby streams through, named in the primary's synchronized_standby_slots. */
export const STANDBY_SLOT = "zl_standby";

export interface StandbyPair {
  readonly primary: PostgresHandle;
  /** The standby's URL to the same database (and, after promote(), the new primary's). */
  readonly standbyUrl: string;
  readonly standby: ManagedProcess;
  /** SELECT pg_promote() on the standby, and wait until it accepts writes. */
  promote(): Promise<void>;
}

export interface StandbyPairOptions {
  readonly binDir: string;
  readonly database: string;
  readonly log: Logger;
  /** Run on the primary before the copy: the standby starts with what it made. */
  readonly prepare: (primary: pg.Client) => Promise<void>;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function startStandbyPair(instance: Instance, o: StandbyPairOptions): Promise<StandbyPair> {
  const primary = await startPostgres(instance, {
    name: "failover-primary",
    database: o.database,
    env: { ...process.env, ZEROLOSS_PG_BINDIR: o.binDir },
    log: o.log,
    // A logical walsender sends nothing the standby's physical slot has not confirmed: whatever
    // the producer puts in Kafka is on the standby too.
    settings: { synchronized_standby_slots: STANDBY_SLOT, wal_keep_size: "256MB" },
  });
  await withClient(primary.url, async (c) => {
    await c.query("SELECT pg_create_physical_replication_slot($1, true)", [STANDBY_SLOT]);
    await o.prepare(c);
  });

  // The copy: a cleanly stopped primary's data directory is a consistent base backup.
  await primary.stop("fast");
  const owner = await stat(primary.dataDir);
  const home = await instance.subdir("pg-failover-standby");
  await chown(home, owner.uid, owner.gid);
  const dataDir = join(home, "data");
  await run("cp", ["-a", primary.dataDir, dataDir]);
  await rm(join(dataDir, "postmaster.pid"), { force: true });
  await writeFile(join(dataDir, "standby.signal"), "");
  await chown(join(dataDir, "standby.signal"), owner.uid, owner.gid);
  await primary.start();

  const target = new URL(primary.url);
  const port = await freePort();
  const conninfo = [
    `host=${target.hostname}`,
    `port=${primary.port}`,
    `user=${decodeURIComponent(target.username)}`,
    `password=${decodeURIComponent(target.password)}`,
    `dbname=${o.database}`,
    "application_name=zl_standby",
  ].join(" ");
  const settings: Record<string, string> = {
    port: String(port),
    listen_addresses: target.hostname,
    unix_socket_directories: home,
    wal_level: "logical",
    max_replication_slots: "32",
    max_wal_senders: "32",
    // A hot standby needs at least the primary's (devstack's) max_connections.
    max_connections: "200",
    logging_collector: "off",
    log_min_messages: "warning",
    hot_standby: "on",
    hot_standby_feedback: "on",
    sync_replication_slots: "on",
    primary_conninfo: conninfo,
    primary_slot_name: STANDBY_SLOT,
  };
  const user = owner.uid === process.getuid?.() ? undefined : (await run("id", ["-nu", String(owner.uid)])).stdout.trim();
  const standby = await instance.spawn({
    name: "postgres-failover-standby",
    command: join(o.binDir, "postgres"),
    args: ["-D", dataDir, ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])],
    stopSignal: "SIGINT",
    logFile: join(home, "postgres.log"),
    ...(user === undefined ? {} : { runAs: { user, uid: owner.uid, gid: owner.gid } }),
  });
  const standbyUrl = Object.assign(new URL(primary.url), { port: String(port) }).toString();
  await pollUntil(() => withClient(standbyUrl, async (c) => ((await c.query<{ r: boolean }>("SELECT pg_is_in_recovery() AS r")).rows[0]?.r === true ? true : undefined)).catch(() => undefined), {
    timeoutMs: 60_000,
    what: "the standby to accept connections in recovery",
    abortIf: () => standby.assertRunning(),
  });
  await pollUntil(
    () => withClient(primary.url, async (c) => ((await c.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active", [STANDBY_SLOT])).rowCount === 1 ? true : undefined)),
    { timeoutMs: 60_000, what: `the standby to stream through slot ${STANDBY_SLOT}`, abortIf: () => standby.assertRunning() },
  );
  return {
    primary,
    standbyUrl,
    standby,
    async promote() {
      await withClient(standbyUrl, (c) => c.query("SELECT pg_promote(true, 60)"));
      await pollUntil(() => withClient(standbyUrl, async (c) => ((await c.query<{ r: boolean }>("SELECT pg_is_in_recovery() AS r")).rows[0]?.r === false ? true : undefined)), {
        timeoutMs: 60_000,
        what: "the standby to be promoted",
        abortIf: () => standby.assertRunning(),
      });
    },
  };
}
