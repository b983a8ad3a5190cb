// Envelope v1 golden fixtures: the exact bytes of five records (c with NULL and "", u with
// an unchanged TOAST column, d with the old key, r from a snapshot, t for one partition)
// live in ./fixtures/*.json, byte for byte as they travel in Kafka (no trailing newline).
// docs/envelope.md shows the same records. A change to the field order, the JSON encoding
// or the checksum fails here. The fixtures are read from the source folder: the package
// build excludes tests, and nothing copies fixtures to dist.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { rowChecksum, UNCHANGED } from "@zeroloss/checksum";
import { describe, expect, it } from "vitest";
import { checksumInput, computeChecksum, decodeEnvelope, encodeEnvelope, EnvelopeDecoder, encodeKey, ENVELOPE_VERSION, type Envelope, type EnvelopeColumn } from "./envelope.js";
import { WireError } from "./errors.js";
import { bulkRowChecksum, parseBulkRows } from "./bulk.js";

const FIXTURES = join(import.meta.dirname, "fixtures");
const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, `${name}.json`));

const columns: EnvelopeColumn[] = [
  { name: "id", type: "bigint", typeOid: 20, typmod: -1, key: true },
  { name: "owner", type: "text", typeOid: 25, typmod: -1 },
  { name: "balance", type: "numeric(18,4)", typeOid: 1700, typmod: 1179656 },
  { name: "note", type: "text", typeOid: 25, typmod: -1 },
  { name: "nickname", type: "character varying(40)", typeOid: 1043, typmod: 44 },
  { name: "opened", type: "timestamp with time zone", typeOid: 1184, typmod: -1 },
];

const source = { db: "bank", schema: "public", table: "accounts" } as const;

const insert: Envelope = {
  v: 1,
  op: "c",
  source: { ...source, lsn: "0/1A2B3C8", commitLsn: "0/1A2B4F0", xid: 771, commitTime: "2026-03-14T09:26:53.589793Z", seq: 0 },
  columns,
  after: { id: "42", owner: "Ada Lovelace", balance: "1250.5000", note: null, nickname: "", opened: "2026-03-14 09:26:53.589793+00" },
  before: null,
  checksum: "a2627a3eb06ac25da391e3ffedd29918a4a8ddb5ac549ee32e21ed63a546c58c",
};

const updateUnchanged: Envelope = {
  v: 1,
  op: "u",
  source: { ...source, lsn: "0/1A2C010", commitLsn: "0/1A2C2A8", xid: 772, commitTime: "2026-03-14T09:27:01.000120Z", seq: 0 },
  columns,
  after: { id: "42", owner: "Ada Lovelace", balance: "1200.5000", nickname: "", opened: "2026-03-14 09:26:53.589793+00" },
  unchanged: ["note"],
  before: null,
  checksum: "17adc9280f39c3fd54e7539689626597ec5f77c40a534c1bdde6cadae03f463f",
};

const del: Envelope = {
  v: 1,
  op: "d",
  source: { ...source, lsn: "0/1A2D100", commitLsn: "0/1A2D1E8", xid: 773, commitTime: "2026-03-14T09:28:30.250000Z", seq: 0 },
  columns,
  after: null,
  before: { id: "42" },
  checksum: "32f42c33ac5ee38385b7b74d906a18c32471a7995248d22b885ac646e3cdc29d",
};

const snapshotRead: Envelope = {
  v: 1,
  op: "r",
  source: { ...source, lsn: "0/19EF6D8", commitLsn: "0/19F0A40", xid: null, commitTime: "2026-03-14T09:00:00.123000Z", seq: 3 },
  columns,
  after: { id: "7", owner: "Grace Hopper", balance: "-0.0100", note: 'ledger "A", line 2\nsecond line', nickname: null, opened: "1999-12-31 23:59:59.999999+00" },
  before: null,
  checksum: "3ed4a2d3e0bb3d138912b5103ad768c930656a6ac0812844c292885482cb7def",
};

const truncate: Envelope = {
  v: 1,
  op: "t",
  source: { ...source, lsn: "0/1A2E000", commitLsn: "0/1A2E0C8", xid: 775, commitTime: "2026-03-14T09:30:00.000001Z", seq: 2 },
  columns: [],
  after: null,
  before: null,
  partition: 2,
  checksum: null,
};

// Two rows in COPY text (key, checksum, values): escapes for a newline, a tab and a backslash, \N for NULL, "" empty.
const snapshotBulk: Envelope = {
  v: 1,
  op: "r",
  source: { ...source, lsn: "0/19EF6D8", commitLsn: "0/19F0A40", xid: null, commitTime: "2026-03-14T09:00:00.123001Z", seq: 0 },
  columns,
  after: null,
  before: null,
  partition: 4,
  rows: {
    count: 2,
    copy:
      '{"id":"7"}\t54b7bbe500c3bb9b9d3047a47f67a9351b60e27d443ba254ebfa46932583f0f9\t7\tGrace Hopper\t-0.0100\tledger "A", line 2\\nsecond line\\tcol\t\\N\t1999-12-31 23:59:59.999999+00\n' +
      '{"id":"13"}\t1958a8919f3659619d1deb2f1777257fb888b1367890a188e4c0c02ec71b971e\t13\tAlan Turing\t0.0000\tback\\\\slash\t\t2026-03-14 09:00:00+00\n',
  },
  checksum: null,
};

const cases: Array<[string, Envelope]> = [
  ["insert", insert],
  ["update-unchanged", updateUnchanged],
  ["delete", del],
  ["snapshot-read", snapshotRead],
  ["truncate", truncate],
  ["snapshot-bulk", snapshotBulk],
];

describe("encodeEnvelope: rows in column order", () => {
  it("writes after's members in column order and refuses one that is no column", () => {
    const shuffled = { ...insert, after: Object.fromEntries(Object.entries(insert.after ?? {}).reverse()) };
    expect(encodeEnvelope(shuffled).equals(fixture("insert"))).toBe(true);
    expect(() => encodeEnvelope({ ...insert, after: { ...insert.after, stray: "1" } })).toThrow(/"stray" is not in the column list/);
  });
});

describe("envelope v1 golden fixtures", () => {
  for (const [name, env] of cases) {
    describe(`${name} (op ${env.op})`, () => {
      it("encodes to exactly the fixture's bytes", () => {
        const bytes = fixture(name);
        expect(encodeEnvelope(env).toString("utf8")).toBe(bytes.toString("utf8"));
        expect(encodeEnvelope(env).equals(bytes)).toBe(true);
      });

      it("decodes the fixture back to the same envelope", () => {
        const bytes = fixture(name);
        const decoded = decodeEnvelope(bytes);
        expect(decoded).toStrictEqual(env);
        expect(decodeEnvelope(bytes.toString("utf8"))).toStrictEqual(env);
        expect(encodeEnvelope(decoded).equals(bytes)).toBe(true);
      });

      it("carries the checksum its own values give", () => {
        const decoded = decodeEnvelope(fixture(name));
        expect(computeChecksum(decoded)).toBe(decoded.checksum);
        expect(decoded.checksum).toBe(env.checksum);
      });
    });
  }

  it("is version 1", () => {
    expect(ENVELOPE_VERSION).toBe(1);
    for (const [name] of cases) expect(JSON.parse(fixture(name).toString("utf8")).v).toBe(1);
  });
});

describe("envelope v1: what the fixtures pin", () => {
  it("keeps SQL NULL and the empty string apart in after", () => {
    const e = decodeEnvelope(fixture("insert"));
    expect(e.after).toHaveProperty("note", null);
    expect(e.after).toHaveProperty("nickname", "");
    expect(fixture("insert").toString("utf8")).toContain(`"note":null,"nickname":""`);
  });

  it("marks an unchanged TOAST column by leaving it out of after and naming it in unchanged", () => {
    const e = decodeEnvelope(fixture("update-unchanged"));
    expect(e.after).not.toHaveProperty("note");
    expect(e.unchanged).toEqual(["note"]);
    const { names, values } = checksumInput(e);
    expect(names).toEqual(["id", "owner", "balance", "note", "nickname", "opened"]);
    expect(values[3]).toBe(UNCHANGED);
    // Unchanged, NULL and "" give three different checksums for the same row.
    const base = ["42", "Ada Lovelace", "1200.5000"];
    const rest = ["", "2026-03-14 09:26:53.589793+00"];
    expect(e.checksum).toBe(rowChecksum(names, [...base, UNCHANGED, ...rest]));
    expect(e.checksum).not.toBe(rowChecksum(names, [...base, null, ...rest]));
    expect(e.checksum).not.toBe(rowChecksum(names, [...base, "", ...rest]));
  });

  it("checksums a delete over its before key only", () => {
    const e = decodeEnvelope(fixture("delete"));
    expect(e.after).toBeNull();
    expect(checksumInput(e)).toEqual({ names: ["id"], values: ["42"] });
    expect(e.checksum).toBe(rowChecksum(["id"], ["42"]));
  });

  it("gives a snapshot read no xid, the consistent point as commit LSN and a lower floor as LSN", () => {
    const e = decodeEnvelope(fixture("snapshot-read"));
    expect(e.source.xid).toBeNull();
    expect(e.source.commitLsn).toBe("0/19F0A40");
    expect(e.source.lsn).toBe("0/19EF6D8");
  });

  it("gives a truncate no columns, no values, no checksum, and its partition", () => {
    const e = decodeEnvelope(fixture("truncate"));
    expect(e).toMatchObject({ columns: [], after: null, before: null, checksum: null, partition: 2 });
    expect(computeChecksum(e)).toBeNull();
  });

  it("carries a bulk snapshot record's rows as COPY text, each with its key and the checksum its values give", () => {
    const e = decodeEnvelope(fixture("snapshot-bulk"));
    expect(e).toMatchObject({ op: "r", after: null, before: null, checksum: null, partition: 4 });
    const rows = parseBulkRows(e);
    expect(rows.map((r) => r.key)).toEqual([`{"id":"7"}`, `{"id":"13"}`]);
    expect(rows[0]?.values).toEqual(["7", "Grace Hopper", "-0.0100", 'ledger "A", line 2\nsecond line\tcol', null, "1999-12-31 23:59:59.999999+00"]);
    expect(rows[1]?.values[3]).toBe("back\\slash");
    expect(rows[1]?.values[4]).toBe("");
    for (const r of rows) {
      expect(r.checksum).toBe(bulkRowChecksum(e, r));
      expect(r.key).toBe(encodeKey(columns, Object.fromEntries(columns.map((c, i) => [c.name, r.values[i] ?? null]))));
    }
    // One definition of the row checksum: a row read alone (snapshot-read) checks the same way.
    const single = decodeEnvelope(fixture("snapshot-read"));
    expect(bulkRowChecksum(e, { key: "", checksum: "", values: columns.map((c) => single.after?.[c.name] ?? null) })).toBe(single.checksum);
    expect(e.rows?.count).toBe(rows.length);
  });

  it("builds the Kafka key from the key columns as a JSON object of text values", () => {
    expect(encodeKey(columns, insert.after ?? {})).toBe(`{"id":"42"}`);
    expect(encodeKey(columns, del.before ?? {})).toBe(`{"id":"42"}`);
    expect(encodeKey(columns, snapshotRead.after ?? {})).toBe(`{"id":"7"}`);
    const composite: EnvelopeColumn[] = [
      { name: "k1", type: "integer", typeOid: 23, typmod: -1, key: true },
      { name: "v", type: "text", typeOid: 25, typmod: -1 },
      { name: "k2", type: "text", typeOid: 25, typmod: -1, key: true },
    ];
    expect(encodeKey(composite, { k1: "1", v: "x", k2: "a" })).toBe(`{"k1":"1","k2":"a"}`);
  });
});

/** A stream decoder that has seen every fixture: records with their column lists take its shortcut. */
function warmDecoder(): EnvelopeDecoder {
  const d = new EnvelopeDecoder();
  for (const name of ["insert", "update-unchanged", "delete", "snapshot-read", "truncate", "snapshot-bulk"]) d.decode(fixture(name));
  return d;
}

/** The rejection's code, the same from decodeEnvelope and from a warm EnvelopeDecoder. */
function codeOf(value: Buffer | string | null): string {
  const codes: string[] = [];
  for (const decode of [decodeEnvelope, (v: Buffer | string | null) => warmDecoder().decode(v)]) {
    try {
      decode(value);
      throw new Error("expected the decoder to reject");
    } catch (err) {
      expect(err).toBeInstanceOf(WireError);
      expect((err as WireError).retriable).toBe(false);
      codes.push((err as WireError).code);
    }
  }
  expect(codes[1]).toBe(codes[0]);
  return codes[0] as string;
}

describe("EnvelopeDecoder", () => {
  const names = ["insert", "update-unchanged", "delete", "snapshot-read", "truncate"];

  it("decodes every fixture exactly as decodeEnvelope does, the first time and again", () => {
    const d = new EnvelopeDecoder();
    for (let round = 0; round < 2; round++) {
      for (const name of names) expect(d.decode(fixture(name))).toStrictEqual(decodeEnvelope(fixture(name)));
    }
  });

  it("shares one frozen column list per distinct text, and knows its JSON", () => {
    const d = new EnvelopeDecoder();
    const a = d.decode(fixture("insert"));
    const b = d.decode(fixture("insert"));
    expect(b.columns).toBe(a.columns);
    expect(Object.isFrozen(b.columns)).toBe(true);
    expect(Object.isFrozen(b.columns[0])).toBe(true);
    expect(d.columnsJson(b)).toBe(JSON.stringify(decodeEnvelope(fixture("insert")).columns));
  });

  it("reads the top-level column list when the known text also appears elsewhere", () => {
    const d = warmDecoder();
    const known = (JSON.parse(fixture("insert").toString("utf8")) as { columns: unknown }).columns;
    const other = [{ name: "id", type: "bigint", typeOid: 20, typmod: -1, key: true }];
    // source carrying a "columns" member with the known list, before the real, different one
    const nested = mutated((o) => {
      (o["source"] as Record<string, unknown>)["columns"] = known;
      o["columns"] = other;
      o["after"] = { id: "42" };
    });
    expect(d.decode(nested).columns).toStrictEqual(other);
    expect(d.decode(nested)).toStrictEqual(decodeEnvelope(nested));
    // a second top-level member (JSON.parse keeps the last): the same answer as decodeEnvelope
    const text = fixture("insert").toString("utf8");
    const twice = text.replace(`,"checksum":`, `,"columns":${JSON.stringify(other)},"checksum":`);
    expect(d.decode(twice).columns).toStrictEqual(other);
    expect(d.decode(twice)).toStrictEqual(decodeEnvelope(twice));
  });

  it("decodes a table with a column named columns", () => {
    const cols = [
      { name: "id", type: "bigint", typeOid: 20, typmod: -1, key: true as const },
      { name: "columns", type: "text", typeOid: 25, typmod: -1 },
    ];
    const env: Envelope = { ...insert, columns: cols, after: { id: "1", columns: "x" }, checksum: rowChecksum(["id", "columns"], ["1", "x"]) };
    const bytes = encodeEnvelope(env);
    const d = new EnvelopeDecoder();
    for (let round = 0; round < 2; round++) expect(d.decode(bytes)).toStrictEqual(env);
  });
});

/** The insert fixture, parsed, changed by `edit`, encoded again. */
function mutated(edit: (o: Record<string, unknown>) => void, name = "insert"): string {
  const o = JSON.parse(fixture(name).toString("utf8")) as Record<string, unknown>;
  edit(o);
  return JSON.stringify(o);
}

describe("decodeEnvelope rejects with a WireError code", () => {
  it("WIRE_EMPTY for a record without value (a tombstone)", () => {
    expect(codeOf(null)).toBe("WIRE_EMPTY");
  });

  it("WIRE_NOT_JSON for bytes that are not JSON", () => {
    expect(codeOf("not json")).toBe("WIRE_NOT_JSON");
    expect(codeOf(Buffer.from([0xff, 0xfe, 0x00]))).toBe("WIRE_NOT_JSON");
    expect(codeOf(fixture("insert").subarray(0, 50))).toBe("WIRE_NOT_JSON");
  });

  it("WIRE_VERSION for an unknown or missing version", () => {
    expect(codeOf(mutated((o) => (o["v"] = 2)))).toBe("WIRE_VERSION");
    expect(codeOf(mutated((o) => (o["v"] = "1")))).toBe("WIRE_VERSION");
    expect(codeOf(mutated((o) => delete o["v"]))).toBe("WIRE_VERSION");
  });

  it("WIRE_MALFORMED for JSON that is not an object", () => {
    expect(codeOf("null")).toBe("WIRE_MALFORMED");
    expect(codeOf("42")).toBe("WIRE_MALFORMED");
  });

  it("WIRE_MALFORMED for a missing source.table, naming the field", () => {
    const value = mutated((o) => delete (o["source"] as Record<string, unknown>)["table"]);
    expect(codeOf(value)).toBe("WIRE_MALFORMED");
    expect(() => decodeEnvelope(value)).toThrow(/source\.table/);
    expect(codeOf(mutated((o) => delete o["source"]))).toBe("WIRE_MALFORMED");
  });

  it("WIRE_MALFORMED for a missing checksum on c, u, r and d", () => {
    for (const name of ["insert", "update-unchanged", "snapshot-read", "delete"]) {
      const value = mutated((o) => delete o["checksum"], name);
      expect(codeOf(value)).toBe("WIRE_MALFORMED");
      expect(() => decodeEnvelope(value)).toThrow(/checksum/);
    }
    expect(codeOf(mutated((o) => (o["checksum"] = null)))).toBe("WIRE_MALFORMED");
  });

  it("WIRE_MALFORMED for a column neither in after nor in unchanged", () => {
    const value = mutated((o) => delete (o["after"] as Record<string, unknown>)["note"]);
    expect(codeOf(value)).toBe("WIRE_MALFORMED");
    expect(() => decodeEnvelope(value)).toThrow(/column note is neither in after nor unchanged/);
    // Same for an update that drops the unchanged list.
    expect(codeOf(mutated((o) => delete o["unchanged"], "update-unchanged"))).toBe("WIRE_MALFORMED");
  });

  it("WIRE_MALFORMED for an unknown op, non-text values, or a missing after/before", () => {
    expect(codeOf(mutated((o) => (o["op"] = "x")))).toBe("WIRE_MALFORMED");
    expect(codeOf(mutated((o) => ((o["after"] as Record<string, unknown>)["id"] = 42)))).toBe("WIRE_MALFORMED");
    expect(codeOf(mutated((o) => (o["after"] = null)))).toBe("WIRE_MALFORMED");
    expect(codeOf(mutated((o) => (o["before"] = null), "delete"))).toBe("WIRE_MALFORMED");
  });

  it("WIRE_MALFORMED for a bulk record that breaks its own rules, naming the rule", () => {
    const bulk = (f: (o: Record<string, unknown>) => unknown) => mutated(f, "snapshot-bulk");
    const rows = (o: Record<string, unknown>) => o["rows"] as Record<string, unknown>;
    const cases: Array<[(o: Record<string, unknown>) => unknown, RegExp]> = [
      [(o) => (o["op"] = "c"), /only snapshot reads/],
      [(o) => (rows(o)["count"] = 0), /not a positive integer/],
      [(o) => (rows(o)["copy"] = "no newline"), /ending with a newline/],
      [(o) => (o["after"] = { id: "7" }), /after, before and checksum null/],
      [(o) => (o["checksum"] = "00"), /after, before and checksum null/],
      [(o) => delete o["partition"], /names its partition/],
      [(o) => (o["rows"] = "text"), /rows is not an object/],
    ];
    for (const [change, message] of cases) {
      expect(codeOf(bulk(change))).toBe("WIRE_MALFORMED");
      expect(() => decodeEnvelope(bulk(change))).toThrow(message);
    }
  });
});
