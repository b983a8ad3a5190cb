// A source table whose column types the target does not have: one TARGET_TYPE_UNKNOWN names
// every such column, so an operator creates the types (extensions, domains, enums) in one pass.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@zeroloss/devstack";
import { connect, type Client } from "@zeroloss/pg";
import { ensureBookkeeping, prepareTable } from "../../services/consumer/src/target-schema.js";

describe("target column types", () => {
  let db: TestDatabase;
  let client: Client;

  beforeAll(async () => {
    db = await createTestDatabase(inject("stack").target, "target_types");
    client = await connect(db.url, { applicationName: "test-target-types" });
    await ensureBookkeeping(client);
  });

  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  it("names every column whose type the target lacks, in one error, and creates nothing", async () => {
    const columns = [
      { name: "id", type: "bigint", typeOid: 20, typmod: -1, key: true as const },
      { name: "mood", type: "mood_enum", typeOid: 99001, typmod: -1 },
      { name: "amount", type: "numeric(12,2)", typeOid: 1700, typmod: 786438 },
      { name: "where_at", type: "geography", typeOid: 99002, typmod: -1 },
    ];
    await expect(prepareTable(client, { schema: "public", name: "visits" }, columns)).rejects.toMatchObject({
      code: "TARGET_TYPE_UNKNOWN",
      message:
        "target table public.visits: column mood has type mood_enum in the source, which the target database does not have; " +
        "column where_at has type geography in the source, which the target database does not have (create the types, extensions or domains in the target first)",
      details: { columns: [{ column: "mood", type: "mood_enum", resolved: null }, { column: "where_at", type: "geography", resolved: null }] },
    });
    const made = await client.query("SELECT 1 FROM pg_class WHERE relname = 'visits'");
    expect(made.rowCount).toBe(0);
  });
});
