// keyIsAfter decides whether a change to a table being snapshotted while streaming concerns
// a row its chunks have not brought yet (services/producer/src/streamer.ts). It must order
// keys exactly as the snapshot's keyset pagination does: checked here against the server's
// own row comparison, for keys JavaScript compares itself (integers, uuid, text under C)
// and keys only the server can order (a linguistic collation, numeric).
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import pg from "pg";
import { createTestDatabase, type TestDatabase } from "@zeroloss/devstack";
import { connect, keyIsAfter, readKeyOrder, type KeyColumn } from "@zeroloss/pg";

const stack = inject("stack");

describe("keyIsAfter orders keys as the server does", () => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase(stack.source, "keyorder");
    client = await connect(db.url, { applicationName: "test-key-order" });
  });

  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  async function check(ddl: string, table: string, pairs: [string[], string[]][], expectOrder: KeyColumn["order"][]): Promise<void> {
    await client.query(ddl);
    const oid = Number((await client.query<{ oid: string }>(`SELECT $1::regclass::oid AS oid`, [table])).rows[0]?.oid);
    const cols = await readKeyOrder(client, oid, table);
    expect(cols.map((c) => c.order)).toEqual(expectOrder);
    for (const [a, b] of pairs) {
      const casts = (from: number) => cols.map((c, i) => `$${from + i}::${c.type}${c.collation === null ? "" : ` COLLATE ${c.collation}`}`).join(", ");
      const server = (await client.query<{ gt: string }>(`SELECT (ROW(${casts(1)}) > ROW(${casts(cols.length + 1)}))::text AS gt`, [...a, ...b])).rows[0]?.gt === "true";
      const key = new Map(cols.map((c, i) => [c.name, a[i] ?? null]));
      expect(await keyIsAfter(client, cols, key, b, table), `${JSON.stringify(a)} > ${JSON.stringify(b)}`).toBe(server);
      // And the server's path gives the same answer.
      expect(await keyIsAfter(client, cols.map((c) => ({ ...c, order: "sql" as const })), key, b, table)).toBe(server);
    }
  }

  it("integers and text under C, in key order (not column order)", async () => {
    await check(`CREATE TABLE k1 (id bigint, grp text COLLATE "C", PRIMARY KEY (grp, id))`, "k1", [
      [["a", "10"], ["a", "9"]],
      [["a", "9"], ["a", "10"]],
      [["B", "1"], ["a", "1"]],
      [["a", "1"], ["B", "1"]],
      [["é", "-5"], ["z", "7"]],
      [["x", "-9223372036854775808"], ["x", "9223372036854775807"]],
      [["x", "5"], ["x", "5"]],
    ].map(([a, b]) => [a as string[], b as string[]]), ["bytes", "integer"]);
  });

  it("uuid", async () => {
    await check(`CREATE TABLE k2 (u uuid PRIMARY KEY)`, "k2", [
      [["00000000-0000-0000-0000-00000000000a"], ["00000000-0000-0000-0000-000000000009"]],
      [["f0000000-0000-0000-0000-000000000000"], ["0fffffff-ffff-ffff-ffff-ffffffffffff"]],
    ], ["bytes"]);
  });

  it("a linguistic collation and numeric: the server decides", async () => {
    const icu = (await client.query(`SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'`)).rowCount === 1;
    const coll = icu ? `"und-x-icu"` : `"POSIX"`;
    await check(`CREATE TABLE k3 (n numeric, s text COLLATE ${coll}, PRIMARY KEY (s, n))`, "k3", [
      [["a", "1.50"], ["a", "1.5"]],
      [["a", "10"], ["a", "9.99"]],
      [["B", "1"], ["a", "1"]],
      [["a", "1"], ["B", "1"]],
    ], [icu ? "sql" : "bytes", "sql"]);
  });
});
