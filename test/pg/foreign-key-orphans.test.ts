// Foreign-key validation at cutover against a real PostgreSQL: readForeignKeys' columns,
// MATCH type and NOT VALID flag, and countForeignKeyOrphans / validateForeignKeys finding
// exactly the rows PostgreSQL itself would refuse, for rows written the way the consumer
// writes them (session_replication_role replica, no key checked).
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@zeroloss/devstack";
import { connect, countForeignKeyOrphans, readForeignKeys, validateForeignKeys, type ForeignKey, type TableName } from "@zeroloss/pg";

const stack = inject("stack");

const t = (name: string, schema = "public"): TableName => ({ schema, name });

describe("foreign-key orphans", () => {
  let db: TestDatabase;
  let c: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase(stack.target, "fk");
    c = await connect(db.url, { applicationName: "fk-orphans" });
  });
  afterAll(async () => {
    await c?.end();
    await db?.drop();
  });

  /** Runs statements the way the consumer does: no foreign key checked. */
  const asReplica = async (...statements: string[]) => {
    await c.query("SET session_replication_role = replica");
    try {
      for (const s of statements) await c.query(s);
    } finally {
      await c.query("RESET session_replication_role");
    }
  };

  /** The one foreign key that `table` carries. */
  const keyOn = async (table: TableName): Promise<ForeignKey> => {
    const keys = (await readForeignKeys(c, [table])).filter((k) => k.table.schema === table.schema && k.table.name === table.name);
    expect(keys).toHaveLength(1);
    return keys[0] as ForeignKey;
  };

  const sorted = (sample: Record<string, string | null>[]) => [...sample].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

  it("a clean parent and child: the key's columns read back, no orphans", async () => {
    await c.query(`CREATE TABLE parent (id int PRIMARY KEY);
                   CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent);
                   INSERT INTO parent VALUES (1), (2);
                   INSERT INTO child VALUES (10, 1), (11, 2), (12, NULL)`);
    const fk = await keyOn(t("child"));
    expect(fk).toMatchObject({ references: t("parent"), columns: ["parent_id"], referencedColumns: ["id"], matchFull: false, validated: true });
    expect(await countForeignKeyOrphans(c, fk)).toEqual({ orphans: 0, sample: [] });
  });

  it("rows applied without their parent (replica) are counted and named; the sample is limited, the count is not", async () => {
    await asReplica("INSERT INTO child VALUES (20, 77), (21, 88), (22, 77)");
    const fk = await keyOn(t("child"));
    const found = await countForeignKeyOrphans(c, fk);
    expect(found.orphans).toBe(3);
    expect(sorted(found.sample)).toEqual([{ parent_id: "77" }, { parent_id: "77" }, { parent_id: "88" }]);

    const one = await countForeignKeyOrphans(c, fk, { sampleLimit: 1 });
    expect(one.orphans).toBe(3);
    expect(one.sample).toHaveLength(1);
    expect(await countForeignKeyOrphans(c, fk, { sampleLimit: 0 })).toEqual({ orphans: 3, sample: [] });

    // Validating the parent alone still checks child: a table outside the set that
    // references into it.
    const validated = await validateForeignKeys(c, [t("parent")]);
    expect(validated).toHaveLength(1);
    expect(validated[0]).toMatchObject({ foreignKey: { name: fk.name, table: t("child") }, orphans: 3, ok: false });

    // Once the parents arrive, the key holds.
    await c.query("INSERT INTO parent VALUES (77), (88)");
    expect(await validateForeignKeys(c, [t("child")])).toMatchObject([{ orphans: 0, sample: [], ok: true }]);
  });

  it("a two-column key, MATCH SIMPLE: pairs in constraint order; a row with a NULL is not checked", async () => {
    await c.query(`CREATE TABLE pair (a int, b int, PRIMARY KEY (a, b));
                   INSERT INTO pair VALUES (1, 2);
                   -- the key lists y before x, the table x before y
                   CREATE TABLE simple_child (id int PRIMARY KEY, x int, y int, FOREIGN KEY (y, x) REFERENCES pair (b, a))`);
    await asReplica(
      "INSERT INTO simple_child VALUES (1, 1, 2)", // (a, b) = (1, 2): present
      "INSERT INTO simple_child VALUES (2, 2, 1)", // (a, b) = (2, 1): absent, though (x, y) = (a, b) pairing would find it
      "INSERT INTO simple_child VALUES (3, 5, NULL), (4, NULL, 5), (5, NULL, NULL)", // not checked
    );
    const fk = await keyOn(t("simple_child"));
    expect(fk).toMatchObject({ columns: ["y", "x"], referencedColumns: ["b", "a"], matchFull: false });
    expect(await countForeignKeyOrphans(c, fk)).toEqual({ orphans: 1, sample: [{ y: "1", x: "2" }] });
  });

  it("MATCH FULL: all NULL is fine, some NULL breaks the key", async () => {
    await c.query("CREATE TABLE full_child (id int PRIMARY KEY, x int, y int, FOREIGN KEY (x, y) REFERENCES pair (a, b) MATCH FULL)");
    await asReplica("INSERT INTO full_child VALUES (1, 1, 2), (2, NULL, NULL), (3, 1, NULL), (4, 3, 4)");
    const fk = await keyOn(t("full_child"));
    expect(fk).toMatchObject({ columns: ["x", "y"], referencedColumns: ["a", "b"], matchFull: true });
    const found = await countForeignKeyOrphans(c, fk);
    expect(found.orphans).toBe(2);
    expect(sorted(found.sample)).toEqual([
      { x: "1", y: null },
      { x: "3", y: "4" },
    ]);
    // PostgreSQL agrees: validating the same rows as a new key refuses them.
    await expect(c.query("ALTER TABLE full_child ADD FOREIGN KEY (x, y) REFERENCES pair (a, b) MATCH FULL")).rejects.toMatchObject({ code: "23503" });
  });

  it("names that need quoting: schema and tables with capitals and spaces, a column called select", async () => {
    await c.query(`CREATE SCHEMA "Odd Schema";
                   CREATE TABLE "Odd Schema"."Parent Table" ("Key Col" text PRIMARY KEY);
                   CREATE TABLE "Odd Schema"."Child ""Table""" (id int PRIMARY KEY, "select" text REFERENCES "Odd Schema"."Parent Table");
                   INSERT INTO "Odd Schema"."Parent Table" VALUES ('it''s here')`);
    await asReplica(`INSERT INTO "Odd Schema"."Child ""Table""" VALUES (1, 'it''s here'), (2, 'gone, "quoted"')`);
    const child = t('Child "Table"', "Odd Schema");
    const fk = await keyOn(child);
    expect(fk).toMatchObject({ references: t("Parent Table", "Odd Schema"), columns: ["select"], referencedColumns: ["Key Col"] });
    expect(await countForeignKeyOrphans(c, fk)).toEqual({ orphans: 1, sample: [{ select: 'gone, "quoted"' }] });
    expect(await validateForeignKeys(c, [child])).toMatchObject([{ foreignKey: { table: child }, orphans: 1, ok: false }]);
  });

  it("a NOT VALID key reads validated false and its old rows are still checked", async () => {
    await c.query(`CREATE TABLE lax_parent (id int PRIMARY KEY);
                   CREATE TABLE lax_child (id int PRIMARY KEY, parent_id int);
                   INSERT INTO lax_parent VALUES (1);
                   INSERT INTO lax_child VALUES (1, 1), (2, 5);
                   ALTER TABLE lax_child ADD CONSTRAINT lax_fk FOREIGN KEY (parent_id) REFERENCES lax_parent NOT VALID`);
    const fk = await keyOn(t("lax_child"));
    expect(fk).toMatchObject({ name: "lax_fk", validated: false });
    expect(await countForeignKeyOrphans(c, fk)).toEqual({ orphans: 1, sample: [{ parent_id: "5" }] });
    await c.query("DELETE FROM lax_child WHERE id = 2; ALTER TABLE lax_child VALIDATE CONSTRAINT lax_fk");
    expect(await keyOn(t("lax_child"))).toMatchObject({ validated: true });
  });

  it("a key into a partitioned table is checked against all its partitions, found from a partition too", async () => {
    await c.query(`CREATE TABLE part_parent (id int PRIMARY KEY) PARTITION BY RANGE (id);
                   CREATE TABLE part_parent_1 PARTITION OF part_parent FOR VALUES FROM (0) TO (100);
                   CREATE TABLE part_parent_2 PARTITION OF part_parent FOR VALUES FROM (100) TO (200);
                   CREATE TABLE part_child (id int PRIMARY KEY, parent_id int REFERENCES part_parent);
                   INSERT INTO part_parent VALUES (1), (101);
                   INSERT INTO part_child VALUES (1, 1), (2, 101)`);
    // PostgreSQL keeps an internal copy of the key per referenced partition; checked alone,
    // each would call the rows of the other partition orphans. Only the key itself is read.
    const keys = await readForeignKeys(c, [t("part_parent_1"), t("part_parent_2")]);
    expect(keys.map((k) => ({ table: k.table, references: k.references }))).toEqual([{ table: t("part_child"), references: t("part_parent") }]);
    expect(await validateForeignKeys(c, [t("part_parent_1"), t("part_parent_2"), t("part_child")])).toMatchObject([{ orphans: 0, ok: true }]);

    await asReplica("INSERT INTO part_child VALUES (3, 150)");
    expect(await validateForeignKeys(c, [t("part_parent_2")])).toMatchObject([{ orphans: 1, sample: [{ parent_id: "150" }], ok: false }]);
  });
});
