// Least privilege, checked at start: a producer or consumer role without what it needs stops
// at once with PG_PRIVILEGE_MISSING, naming the role, every missing privilege and the GRANT
// that fixes each; with exactly the grants of docs/operations.md ("Roles and grants") the
// producer streams.
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { createTestDatabase, freePort, pollUntil, urlAsRole, type TestDatabase } from "@zeroloss/devstack";
import { connect, missingTargetPrivileges } from "@zeroloss/pg";
import { CONSUMER_MAIN } from "../consumer/harness.js";
import { PRODUCER_MAIN, startService, type RunningProducer } from "../producer/harness.js";

const stack = inject("stack");

describe("roles and grants", () => {
  const suffix = randomBytes(4).toString("hex");
  const producerRole = `zl_producer_${suffix}`;
  const consumerRole = `zl_consumer_${suffix}`;
  const password = `pw-${randomBytes(8).toString("hex")}`;
  let source: TestDatabase;
  let target: TestDatabase;
  let admin: pg.Client;
  let dir: string;
  const running: RunningProducer[] = [];

  beforeAll(async () => {
    source = await createTestDatabase(stack.source, "privs_src");
    target = await createTestDatabase(stack.target, "privs_tgt");
    admin = new pg.Client({ connectionString: source.url });
    await admin.connect();
    await admin.query(`CREATE ROLE "${producerRole}" LOGIN PASSWORD '${password}'`);
    await admin.query("CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL)");
    await admin.query("INSERT INTO accounts SELECT i, 'o' || i FROM generate_series(1, 50) i");
    const t = await connect(target.url, { applicationName: "test-privileges" });
    await t.query(`CREATE ROLE "${consumerRole}" LOGIN PASSWORD '${password}'`);
    await t.end();
    dir = mkdtempSync(join(tmpdir(), "zeroloss-privileges-"));
  });

  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop().catch(() => undefined)));
    // The granted producer made its slot: a test leaves none behind.
    await admin?.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", [`zl_privs_${suffix}`]);
    await admin?.end();
    await source?.drop();
    await target?.drop();
    for (const [url, role] of [[stack.source, producerRole], [stack.target, consumerRole]] as const) {
      const c = await connect(url, { applicationName: "test-privileges-cleanup" });
      await c.query(`DROP ROLE IF EXISTS "${role}"`);
      await c.end();
    }
  });

  const configFile = (name: string, sourceUrl: string, targetUrl: string) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      stringify({
        source: { url: sourceUrl, slot: `zl_privs_${suffix}`, publication: `zl_privs_${suffix}`, heartbeatSeconds: 1 },
        target: { url: targetUrl },
        kafka: { brokers: [...stack.kafka], topicPrefix: `zl_privs_${suffix}`, partitions: 1 },
        log: { level: "warn" },
      }),
    );
    return file;
  };
  const start = async (main: string, variable: string, file: string) => {
    const s = startService(main, variable, file, [], { [variable]: String(await freePort()) });
    running.push(s);
    return s;
  };

  it("a producer role with nothing granted: one error listing REPLICATION, SELECT, CREATE and ownership, each with its grant", { timeout: 60_000 }, async () => {
    const producer = await start(PRODUCER_MAIN, "ZEROLOSS_PRODUCER_HTTP_PORT", configFile("bare", urlAsRole(source.url, producerRole, password), target.url));
    expect(await producer.exitWithin(45_000)).toBe(1);
    const out = producer.output();
    expect(out).toContain("PG_PRIVILEGE_MISSING");
    expect(out).toContain(`ALTER ROLE \\"${producerRole}\\" REPLICATION`);
    expect(out).toContain(`GRANT SELECT ON \\"public\\".\\"accounts\\" TO \\"${producerRole}\\"`);
    expect(out).toContain(`GRANT CREATE ON DATABASE \\"${source.name}\\"`);
    expect(out).toContain("CREATE PUBLICATION");
    expect(out).not.toContain(password);
  });

  it("with the recipe's grants (REPLICATION, SELECT, a publication made by the tables' owner) the producer streams", { timeout: 90_000 }, async () => {
    await admin.query(`ALTER ROLE "${producerRole}" REPLICATION`);
    await admin.query(`GRANT SELECT ON accounts TO "${producerRole}"`);
    await admin.query(`CREATE PUBLICATION "zl_privs_${suffix}" FOR TABLE accounts`);
    const producer = await start(PRODUCER_MAIN, "ZEROLOSS_PRODUCER_HTTP_PORT", configFile("granted", urlAsRole(source.url, producerRole, password), target.url));
    await pollUntil(async () => ((await producer.health())?.body["status"] === "streaming" ? true : undefined), {
      timeoutMs: 60_000,
      what: "the producer to stream with the least privileges",
      abortIf: () => {
        if (producer.proc.exitCode !== null) throw new Error(`the producer exited ${producer.proc.exitCode}:\n${producer.output().slice(-3000)}`);
      },
    });
    await producer.stop();
  });

  it("a consumer role that may not create its schema, and one that may only read a target table: each privilege named with its grant", { timeout: 60_000 }, async () => {
    const consumer = await start(CONSUMER_MAIN, "ZEROLOSS_CONSUMER_HTTP_PORT", configFile("consumer", source.url, urlAsRole(target.url, consumerRole, password)));
    expect(await consumer.exitWithin(45_000)).toBe(1);
    expect(consumer.output()).toContain("PG_PRIVILEGE_MISSING");
    expect(consumer.output()).toContain(`GRANT CREATE ON DATABASE \\"${target.name}\\" TO \\"${consumerRole}\\"`);
    // target.sessionReplicationRole replica (the default): the right to set it, granted per parameter.
    expect(consumer.output()).toContain(`GRANT SET ON PARAMETER session_replication_role TO \\"${consumerRole}\\"`);

    const owner = await connect(target.url, { applicationName: "test-privileges" });
    await owner.query("CREATE TABLE accounts (id int PRIMARY KEY, owner text)");
    await owner.query(`GRANT SELECT ON accounts TO "${consumerRole}"`);
    await owner.end();
    const limited = await connect(urlAsRole(target.url, consumerRole, password), { applicationName: "test-privileges" });
    try {
      const { role, missing } = await missingTargetPrivileges(limited, [{ schema: "public", name: "accounts" }], { replicaRole: true });
      expect(role).toBe(consumerRole);
      expect(missing).toContainEqual({
        privilege: "INSERT, UPDATE, DELETE",
        on: "table public.accounts",
        grant: `GRANT INSERT, UPDATE, DELETE ON "public"."accounts" TO "${consumerRole}";`,
      });
      expect(missing).toContainEqual(expect.objectContaining({ privilege: "SET ON PARAMETER session_replication_role", grant: `GRANT SET ON PARAMETER session_replication_role TO "${consumerRole}";` }));

    } finally {
      await limited.end();
    }
  });
});
