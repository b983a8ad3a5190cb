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

async function withAdmin<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(serverUrl, "postgres") });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
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
        const sessions = await c.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1", [name]);
        const leaked = [
          ...slots.rows.map((r) => `replication slot ${r.slot_name}`),
          ...(Number(sessions.rows[0]?.n ?? 0) > 0 ? [`${sessions.rows[0]?.n} open session(s)`] : []),
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
