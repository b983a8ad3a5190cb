// Test isolation in the manner of graphile-worker: every test file gets a fresh database,
// cloned from a template, and its teardown fails when the file leaked something (a
// replication slot, an open connection) instead of letting the next file inherit it.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { ZerolossError } from "@zeroloss/errors";

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** Drops the database; throws when slots or sessions were left behind. */
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** The URL of the same database for another login role: a test's application or service role. */
export function urlAsRole(url: string, role: string, password: string): string {
  const u = new URL(url);
  u.username = role;
  u.password = password;
  return u.toString();
}

async function withAdmin<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(serverUrl, "postgres") });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** How long a session of a killed client may outlive it: its backend ends once it notices the closed socket. */
const KILLED_CLIENT_GRACE_MS = 10_000;

/**
 * Sessions still on `database` after a short grace. Tests stop services with SIGKILL; the
 * server notices such a client's closed socket only when its backend next reads or writes,
 * so a session that ends within the grace was closed, and one that stays was leaked.
 */
async function sessionsLeft(c: pg.Client, database: string): Promise<string[]> {
  const deadline = Date.now() + KILLED_CLIENT_GRACE_MS;
  for (;;) {
    const res = await c.query<{ who: string }>(
      `SELECT coalesce(nullif(application_name, ''), backend_type) || ' pid ' || pid || ' ' || coalesce(state, '') AS who
         FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [database],
    );
    if (res.rows.length === 0 || Date.now() >= deadline) return res.rows.map((r) => r.who);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Creates `<prefix>_<random>` on the server of `serverUrl`, from `template` (default template1). */
export async function createTestDatabase(serverUrl: string, prefix: string, template = "template1"): Promise<TestDatabase> {
  const name = `${prefix.toLowerCase().replace(/[^a-z0-9_]/g, "_").slice(0, 40)}_${randomBytes(4).toString("hex")}`;
  await withAdmin(serverUrl, (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(template)}`));
  return {
    name,
    url: withDatabase(serverUrl, name),
    drop: () =>
      withAdmin(serverUrl, async (c) => {
        const slots = await c.query<{ slot_name: string }>("SELECT slot_name FROM pg_replication_slots WHERE database = $1", [name]);
        const sessions = await sessionsLeft(c, name);
        const leaked = [
          ...slots.rows.map((r) => `replication slot ${r.slot_name}`),
          ...(sessions.length > 0 ? [`${sessions.length} open session(s) (${sessions.join(", ")})`] : []),
        ];
        for (const r of slots.rows) {
          await c.query("SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", [r.slot_name]);
        }
        await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
        if (leaked.length > 0) {
          throw new ZerolossError("TEST_LEAK", `test database ${name} was left with ${leaked.join(", ")}: close them in the test`);
        }
      }),
  };
}
