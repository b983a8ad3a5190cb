// Foreign keys and triggers on the target (docs/consumer.md, "Foreign keys and triggers"):
// the consumer applies with session_replication_role = replica by default, as PostgreSQL's
// apply workers do, so a child row applied before its parent (another table: another topic,
// another transaction) is not refused, and only triggers enabled ALWAYS (or REPLICA) fire.
// With origin, the foreign key is checked: the child's partition stops, naming it.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type pg from "pg";
import { pollUntil } from "@zeroloss/devstack";
import { topicNames } from "@zeroloss/wire";
import { pipelineFixture, sourceClient, stoppedPartitions, waitForEqual, type PipelineFixture, type TableSpec } from "./harness.js";

const PARENTS: TableSpec = { name: "public.parents", columns: ["id", "name"], key: ["id"] };
const CHILDREN: TableSpec = { name: "public.children", columns: ["id", "parent_id"], key: ["id"] };

/** The source has no foreign key (or rows arrive in any order anyway); the target, made beforehand, has one, and two triggers. */
async function schemas(src: pg.Client, target: pg.Client): Promise<void> {
  for (const c of [src, target]) await c.query(`CREATE TABLE parents (id int PRIMARY KEY, name text NOT NULL)`);
  await src.query(`CREATE TABLE children (id int PRIMARY KEY, parent_id int NOT NULL)`);
  await target.query(`CREATE TABLE children (id int PRIMARY KEY, parent_id int NOT NULL CONSTRAINT children_parent_fk REFERENCES parents (id))`);
  await target.query(`CREATE TABLE audit (kind text NOT NULL, child int NOT NULL)`);
  for (const kind of ["ordinary", "always"]) {
    await target.query(`CREATE FUNCTION audit_${kind}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit VALUES ('${kind}', NEW.id); RETURN NEW; END $$`);
    await target.query(`CREATE TRIGGER children_${kind} AFTER INSERT ON children FOR EACH ROW EXECUTE FUNCTION audit_${kind}()`);
  }
  await target.query(`ALTER TABLE children ENABLE ALWAYS TRIGGER children_always`);
}

describe("foreign keys on the target, session_replication_role replica (the default)", () => {
  let f: PipelineFixture;
  let src: pg.Client;

  beforeAll(async () => {
    f = await pipelineFixture(inject("stack"), "fk_replica");
    src = await sourceClient(f);
    await schemas(src, f.target);
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
  });

  it("applies a child before its parent; only ALWAYS triggers fire", async () => {
    const producer = await f.start();
    const consumer = await f.startConsumer();
    await src.query(`INSERT INTO children VALUES (1, 10), (2, 10)`);
    // The children are in the target while their parent is not anywhere yet.
    const count = async (table: string) => Number((await f.target.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n);
    await pollUntil(async () => ((await count("children")) === 2 ? true : undefined), {
      timeoutMs: 60_000,
      what: "the children applied before their parent exists",
    });
    expect(await count("parents")).toBe(0);
    await src.query(`INSERT INTO parents VALUES (10, 'late parent')`);
    await waitForEqual(f, src, [PARENTS, CHILDREN], [producer, consumer]);

    expect((await stoppedPartitions(consumer)).stopped).toEqual([]);
    const audit = await f.target.query<{ kind: string; n: string }>(`SELECT kind, count(*) AS n FROM audit GROUP BY kind ORDER BY kind`);
    expect(audit.rows).toEqual([{ kind: "always", n: "2" }]);
    // Every row satisfies the key now: nothing the constraint would refuse was left.
    const orphans = await f.target.query(`SELECT c.id FROM children c LEFT JOIN parents p ON p.id = c.parent_id WHERE p.id IS NULL`);
    expect(orphans.rowCount).toBe(0);
    await consumer.stop();
    await producer.stop();
  });
});

describe("foreign keys on the target, session_replication_role origin", () => {
  let f: PipelineFixture;
  let src: pg.Client;

  beforeAll(async () => {
    f = await pipelineFixture(inject("stack"), "fk_origin", { target: { sessionReplicationRole: "origin" } });
    src = await sourceClient(f);
    await schemas(src, f.target);
  });

  afterAll(async () => {
    await src?.end();
    await f?.close();
  });

  it("checks the key: a child without its parent stops its partition, naming the constraint", async () => {
    const producer = await f.start();
    const consumer = await f.startConsumer();
    await src.query(`INSERT INTO children VALUES (1, 10)`);
    const stopped = await pollUntil(
      async () => {
        const { stopped: s } = await stoppedPartitions(consumer);
        return s.length > 0 ? s : undefined;
      },
      { timeoutMs: 60_000, what: "the children's partition stopped on /healthz" },
    );
    expect(stopped).toEqual([
      expect.objectContaining({
        topic: topicNames(f.prefix).data("public", "children"),
        code: "PG_QUERY_FAILED",
        message: expect.stringMatching(/children_parent_fk.*SQLSTATE 23503/),
      }),
    ]);
    expect((await f.target.query<{ n: string }>(`SELECT count(*) AS n FROM children`)).rows[0]?.n).toBe("0");
    await consumer.stop();
    await producer.stop();
  });
});
