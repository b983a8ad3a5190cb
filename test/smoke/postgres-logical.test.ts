// The PostgreSQL side of the stack is real: two separate servers, logical decoding on, and
// rows come back through pg-logical-replication's pgoutput stream.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import pg from "pg";
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from "pg-logical-replication";
import { createTestDatabase, pollUntil, type TestDatabase } from "@zeroloss/devstack";

const stack = inject("stack");

describe("PostgreSQL source and target", () => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase(stack.source, "smoke_logical");
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });

  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  it("are two separate servers with wal_level=logical", async () => {
    const identity = async (url: string) => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const r = await c.query<{ id: string; wal_level: string }>(
          "SELECT system_identifier::text AS id, current_setting('wal_level') AS wal_level FROM pg_control_system()",
        );
        return r.rows[0];
      } finally {
        await c.end();
      }
    };
    const [source, target] = await Promise.all([identity(stack.source), identity(stack.target)]);
    expect(source?.wal_level).toBe("logical");
    expect(target?.wal_level).toBe("logical");
    expect(source?.id).not.toBe(target?.id);
  });

  it("streams inserted rows through a publication and a pgoutput slot", async () => {
    const slot = `smoke_${db.name.slice(-8)}`;
    await client.query("CREATE TABLE public.accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance numeric(18,4))");
    await client.query("CREATE PUBLICATION smoke_pub FOR TABLE public.accounts");
    await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);

    const service = new LogicalReplicationService(
      { connectionString: db.url },
      // The library's defaults acknowledge on receipt and on a timer; a CDC reader never wants that.
      { acknowledge: { auto: false, timeoutSeconds: 0 } },
    );
    const inserts: Pgoutput.MessageInsert[] = [];
    const errors: Error[] = [];
    service.on("data", (_lsn: string, message: Pgoutput.Message) => {
      if (message.tag === "insert") inserts.push(message);
    });
    service.on("error", (err: Error) => errors.push(err));
    const streaming = service.subscribe(new PgoutputPlugin({ protoVersion: 1, publicationNames: ["smoke_pub"] }), slot);
    streaming.catch((err: unknown) => errors.push(err as Error));

    try {
      await client.query(
        "INSERT INTO public.accounts VALUES (1, 'ada', 10.5000), (2, 'grace', NULL), (3, 'émile ☃', -0.0001)",
      );
      await pollUntil(async () => (inserts.length >= 3 || errors.length > 0 ? true : undefined), {
        timeoutMs: 30_000,
        what: "three inserts from the pgoutput stream",
      });
      expect(errors).toEqual([]);
      expect(inserts.map((m) => m.relation.name)).toEqual(["accounts", "accounts", "accounts"]);
      expect(inserts.map((m) => m.new["owner"])).toEqual(["ada", "grace", "émile ☃"]);
      expect(inserts[1]?.new["balance"]).toBeNull();
    } finally {
      await service.stop();
    }
    await pollUntil(
      async () => {
        const r = await client.query<{ active: boolean }>("SELECT active FROM pg_replication_slots WHERE slot_name = $1", [slot]);
        return r.rows[0]?.active === false ? true : undefined;
      },
      { timeoutMs: 10_000, what: `slot ${slot} to be released` },
    );
    await client.query("SELECT pg_drop_replication_slot($1)", [slot]);
  });
});
