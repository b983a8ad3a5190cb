// The producer builds envelopes, keys and checksums on its own fast path; packages/wire
// defines them. These checks hold the fast path to the definitions.
import { UNCHANGED } from "@zeroloss/checksum";
import { computeChecksum, decodeEnvelope, encodeEnvelope, encodeKey, topicNames, type Envelope } from "@zeroloss/wire";
import { describe, expect, it } from "vitest";
import type { RelationMessage, TypeNames } from "@zeroloss/pg";
import { deleteRecord, relationSchema, rowRecord, schemaFromRelation } from "./envelopes.js";

const source = { db: "bank", schema: "public", table: "odd", lsn: "0/16B3748", commitLsn: "0/16B3800", xid: 731, commitTime: "2026-11-21T10:00:00.000001Z", seq: 0 };

const rel = relationSchema(topicNames("t"), 1, "public", "odd", [
  { name: "tenant", type: "text", typeOid: 25, typmod: -1, key: true },
  { name: "note", type: "text", typeOid: 25, typmod: -1 },
  { name: '"quoted" \\ key', type: "bigint", typeOid: 20, typmod: -1, key: true },
  { name: "__proto__", type: "text", typeOid: 25, typmod: -1 },
  { name: "big", type: "text", typeOid: 25, typmod: -1 },
]);

describe("producer envelopes", () => {
  it("builds the key, value and checksum packages/wire defines, for awkward names and values", () => {
    const tuples = [
      ["acme", "x", "1", "p", "y"],
      ['quote " backslash \\ newline \n', null, "-9223372036854775808", null, UNCHANGED],
      ["é😀\u0301", "", "0", "", "z".repeat(10_000)],
    ] as const;
    for (const tuple of tuples) {
      const built = rowRecord("u", rel, [...tuple], source);
      const env = decodeEnvelope(built.record.value);
      expect(built.record.key).toBe(encodeKey(env.columns, env.after ?? {}));
      expect(JSON.parse(built.record.key as string)).toEqual({ tenant: tuple[0], '"quoted" \\ key': tuple[2] });
      expect(built.checksum).toBe(computeChecksum(env));
      expect(env.checksum).toBe(built.checksum);
    }
  });

  it("writes exactly the bytes encodeEnvelope gives for the same envelope", () => {
    const cases: { op: "c" | "u" | "r"; tuple: (string | null | typeof UNCHANGED)[]; xid: number | null }[] = [
      { op: "c", tuple: ["acme", "x", "1", "p", "y"], xid: 731 },
      { op: "u", tuple: ["a\u0000b", UNCHANGED, "2", null, UNCHANGED], xid: 4_000_000_000 },
      { op: "r", tuple: ["é😀", null, "3", "</script>", "\"\\\n\t"], xid: null },
    ];
    const firstUnchanged = relationSchema(topicNames("t"), 2, "s p", 'ta"ble', [
      { name: "blob", type: "text", typeOid: 25, typmod: -1 },
      { name: "id", type: "integer", typeOid: 23, typmod: -1, key: true },
    ]);
    const check = (r: typeof rel, op: "c" | "u" | "r", tuple: (string | null | typeof UNCHANGED)[], src: Envelope["source"]) => {
      const built = rowRecord(op, r, tuple, src);
      const after: Record<string, string | null> = Object.create(null) as Record<string, string | null>;
      const unchanged: string[] = [];
      r.names.forEach((name, i) => {
        const v = tuple[i];
        if (v === UNCHANGED) unchanged.push(name);
        else after[name] = v ?? null;
      });
      const env: Envelope = { v: 1, op, source: src, columns: r.columns, after, ...(unchanged.length > 0 ? { unchanged } : {}), before: null, checksum: built.checksum };
      expect(built.record.value.toString("utf8")).toBe(encodeEnvelope(env).toString("utf8"));
    };
    for (const c of cases) check(rel, c.op, c.tuple, { ...source, xid: c.xid, seq: 17 });
    // Integer-like names: JSON.stringify of an object would put them first; column order holds.
    const numeric = relationSchema(topicNames("t"), 3, "public", "n", [
      { name: "name", type: "text", typeOid: 25, typmod: -1, key: true },
      { name: "2024", type: "integer", typeOid: 23, typmod: -1, key: true },
      { name: "10", type: "text", typeOid: 25, typmod: -1 },
    ]);
    check(numeric, "c", ["x", "7", "y"], { ...source, table: "n" });
    const built = rowRecord("c", numeric, ["x", "7", "y"], { ...source, table: "n" });
    expect(built.record.key).toBe('{"name":"x","2024":"7"}');
    expect(built.record.key).toBe(encodeKey(numeric.columns, { name: "x", "2024": "7", "10": "y" }));
    expect(built.record.value.toString()).toContain('"after":{"name":"x","2024":"7","10":"y"}');
    check(firstUnchanged, "u", [UNCHANGED, "5"], { ...source, schema: "s p", table: 'ta"ble' });
  });

  it("keys a delete by its old key, like an insert of the same row", () => {
    const row = ["acme", "x", "42", "p", "y"];
    const inserted = rowRecord("c", rel, row, source);
    const deleted = deleteRecord(rel, "K", row, source);
    expect(deleted.record.key).toBe(inserted.record.key);
    const env = decodeEnvelope(deleted.record.value);
    expect(env.before).toEqual({ tenant: "acme", '"quoted" \\ key': "42" });
    expect(deleted.checksum).toBe(computeChecksum(env));
  });
});

describe("schemaFromRelation", () => {
  // PostgreSQL sends a Relation message again whenever its cache entry is invalidated, also
  // for an older column list decoded after a later RENAME: the catalog no longer knows the name.
  it("keeps a column's attnum from the previous list when the catalog no longer has its name", async () => {
    const types = { resolve: async () => "text" } as unknown as TypeNames;
    const msg: RelationMessage = {
      tag: "relation",
      relationOid: 7,
      schema: "public",
      name: "evo",
      replicaIdentity: "default",
      columns: [
        { name: "id", key: true, typeOid: 23, typeMod: -1 },
        { name: "d", key: false, typeOid: 25, typeMod: -1 },
      ],
    };
    const facts = async () => new Map([["id", { attnum: 1 }], ["d2", { attnum: 5 }]]); // d was renamed to d2 since
    const previous = [
      { name: "id", type: "integer", typeOid: 23, typmod: -1, key: true as const, attnum: 1 },
      { name: "d", type: "text", typeOid: 25, typmod: -1, attnum: 5, missing: "x" },
    ];
    const rel = await schemaFromRelation(topicNames("zl"), msg, types, async () => ["id"], facts, previous);
    expect(rel.columns.map((c) => [c.name, c.attnum, c.missing])).toEqual([
      ["id", 1, undefined],
      ["d", 5, "x"],
    ]);
    // Without a previous list, nothing is made up.
    const fresh = await schemaFromRelation(topicNames("zl"), msg, types, async () => ["id"], facts);
    expect(fresh.columns.map((c) => c.attnum)).toEqual([1, undefined]);
  });
});
