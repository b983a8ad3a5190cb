// Canonical row checksum v1, TypeScript side: golden values pinned as literals (a change
// to the encoding must fail here, not silently re-key every stored checksum), the byte
// layout rebuilt by hand, the three states NULL / "" / unchanged kept apart, and the
// length prefixes that keep neighbouring names and values from running together.
// The SQL side is checked against this one, type by type, in test/checksum/sql-equals-ts.test.ts.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CHECKSUM_VERSION, checksumSql, encodedName, quoteIdent, rowChecksum, RowChecksummer, textOutputSql, UNCHANGED, type CellValue } from "./index.js";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const u32be = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

describe("rowChecksum: golden values", () => {
  // Each literal was computed once and cross-checked with an independent implementation
  // (Python hashlib over the documented layout, and printf | sha256sum for the first two).
  const golden: Array<[string, string[], CellValue[], string]> = [
    ["no columns", [], [], "16324b5750b6a4ae554e392daf89c48ae1ba305334b4374172ed8ef40caae94a"],
    ["one value", ["id"], ["1"], "98c9e7b029e9be0502198c2a82c788a180344bd30328fe09e3137d6e24e7210b"],
    ["SQL NULL", ["id", "note"], ["1", null], "b9f94615f7cc8028aa8c43498c59a68ab01d95dfc6cbf06c7f45360863d4cb7b"],
    ["empty string", ["id", "note"], ["1", ""], "754d4a06054939c23e610a5b17006f4823d1718354d96e2d4443d6b18b458bb1"],
    ["unchanged TOAST", ["id", "note"], ["1", UNCHANGED], "6395802ec7d1c938a125455f31c62eba4666076a2e05d737c53a30176eb6f9ac"],
    ["multi-byte UTF-8 in name and value", ["naïve"], ["€ 😀"], "849ed9ad1f84d6c264a87f472afaadeebeb9c8e7a62797a417670de1ceca3fc4"],
    ["value, NULL and unchanged in one row", ["id", "amount", "note", "blob"], ["42", "18.5000", null, UNCHANGED], "9e1d12992348968a4a382bb45180d93ceb9a33a070f4101387e154a7e0360499"],
  ];
  for (const [what, names, values, hex] of golden) {
    it(`${what} → ${hex.slice(0, 12)}…`, () => {
      expect(rowChecksum(names, values)).toBe(hex);
    });
  }

  it("is version 1", () => {
    expect(CHECKSUM_VERSION).toBe(1);
  });
});

describe("rowChecksum: the documented byte layout", () => {
  it("hashes exactly 'zl1' + per column u32be(len) name, then 'n' | 'u' | 'v' u32be(len) value", () => {
    // Built byte by byte from the layout in index.ts's header, not with the module's helpers.
    const bytes = Buffer.concat([
      Buffer.from([0x7a, 0x6c, 0x31]), // "zl1"
      // column "id" = "42"
      u32be(2), Buffer.from([0x69, 0x64]), Buffer.from([0x76]), u32be(2), Buffer.from([0x34, 0x32]),
      // column "amount" = "18.5000"
      u32be(6), Buffer.from("amount", "ascii"), Buffer.from([0x76]), u32be(7), Buffer.from("18.5000", "ascii"),
      // column "note" = NULL
      u32be(4), Buffer.from("note", "ascii"), Buffer.from([0x6e]),
      // column "blob" = unchanged TOAST
      u32be(4), Buffer.from("blob", "ascii"), Buffer.from([0x75]),
    ]);
    expect(bytes.toString("hex")).toBe(
      "7a6c31" + "00000002" + "6964" + "76" + "00000002" + "3432" +
        "00000006" + "616d6f756e74" + "76" + "00000007" + "31382e35303030" +
        "00000004" + "6e6f7465" + "6e" +
        "00000004" + "626c6f62" + "75",
    );
    expect(rowChecksum(["id", "amount", "note", "blob"], ["42", "18.5000", null, UNCHANGED])).toBe(sha256(bytes));
  });

  it("length-prefixes by UTF-8 bytes, not UTF-16 code units", () => {
    const name = "naïve"; // 5 characters, 6 bytes
    const value = "€ 😀"; // 4 UTF-16 code units, 8 bytes: e2 82 ac 20 f0 9f 98 80
    const bytes = Buffer.concat([
      Buffer.from("zl1"),
      u32be(6), Buffer.from([0x6e, 0x61, 0xc3, 0xaf, 0x76, 0x65]),
      Buffer.from("v"), u32be(8), Buffer.from([0xe2, 0x82, 0xac, 0x20, 0xf0, 0x9f, 0x98, 0x80]),
    ]);
    expect(rowChecksum([name], [value])).toBe(sha256(bytes));
    expect(encodedName(name).toString("hex")).toBe("000000066e61c3af7665");
  });
});

describe("rowChecksum: distinct rows never encode alike", () => {
  it("NULL, empty string and unchanged TOAST give three different checksums", () => {
    const sums = new Set([rowChecksum(["note"], [null]), rowChecksum(["note"], [""]), rowChecksum(["note"], [UNCHANGED])]);
    expect(sums.size).toBe(3);
  });

  it("the marker letters as values differ from the markers themselves", () => {
    const sums = new Set([
      rowChecksum(["c"], [null]),
      rowChecksum(["c"], ["n"]),
      rowChecksum(["c"], [UNCHANGED]),
      rowChecksum(["c"], ["u"]),
      rowChecksum(["c"], ["NULL"]),
    ]);
    expect(sums.size).toBe(5);
  });

  it("length prefixes keep names apart: [ab, c] vs [a, bc]", () => {
    expect(rowChecksum(["ab", "c"], ["x", "y"])).toBe("8cbe59bb9cabb3fb667f90668b18215a1adf3246b4da33eb1d13184983b6c80d");
    expect(rowChecksum(["a", "bc"], ["x", "y"])).toBe("2a235ecf42ad8a866982be1b6322c640613f517dac7e9496e7b8fd72bb5c29ec");
  });

  it("length prefixes keep values apart: [ab, c] vs [a, bc]", () => {
    expect(rowChecksum(["x", "y"], ["ab", "c"])).not.toBe(rowChecksum(["x", "y"], ["a", "bc"]));
  });

  it("a value cannot swallow the next column's name", () => {
    // Without the length prefix, value "1" + name "b" and value "1b" + ... could meet.
    expect(rowChecksum(["a", "b"], ["1", null])).not.toBe(rowChecksum(["a"], ["1\u0000\u0000\u0000\u0001bn"]));
    expect(rowChecksum(["a", "b"], ["", ""])).not.toBe(rowChecksum(["a"], [""]));
  });

  it("column order and names matter", () => {
    expect(rowChecksum(["a", "b"], ["1", "2"])).not.toBe(rowChecksum(["b", "a"], ["2", "1"]));
    expect(rowChecksum(["a"], ["1"])).not.toBe(rowChecksum(["A"], ["1"]));
  });

  it("text is hashed as given: no trimming, no Unicode normalisation", () => {
    expect(rowChecksum(["c"], ["ab "])).not.toBe(rowChecksum(["c"], ["ab"]));
    // é precomposed (U+00E9) vs e + combining acute (U+0065 U+0301)
    expect(rowChecksum(["c"], ["\u00e9"])).not.toBe(rowChecksum(["c"], ["e\u0301"]));
    expect(rowChecksum(["c"], ["1.10"])).not.toBe(rowChecksum(["c"], ["1.1"]));
  });
});

describe("rowChecksum: misuse", () => {
  it("throws when names and values differ in length", () => {
    expect(() => rowChecksum(["a", "b"], ["1"])).toThrow(RangeError);
    expect(() => rowChecksum(["a"], ["1", "2"])).toThrow(/1 column names but 2 values/);
    expect(() => rowChecksum([], [null])).toThrow(RangeError);
  });
});

describe("checksumSql / textOutputSql: generated SQL", () => {
  it("embeds the tag and each name's encoded bytes as bytea literals", () => {
    const sql = checksumSql([{ name: "id", textSql: `t."id"::text` }]);
    expect(sql).toContain(`'\\x7a6c31'::bytea`);
    expect(sql).toContain(`'\\x000000026964'::bytea`);
    expect(sql.startsWith("encode(sha256(")).toBe(true);
  });

  it("tests the unchanged marker before NULL, only when asked", () => {
    const plain = checksumSql([{ name: "c", textSql: "x" }]);
    expect(plain).not.toContain(`'\\x75'::bytea`);
    const staged = checksumSql([{ name: "c", textSql: "x", unchangedSql: "s.unchanged_c" }]);
    expect(staged.indexOf("s.unchanged_c")).toBeLessThan(staged.indexOf("IS NULL"));
  });

  it("textOutputSql calls the output function (format %s), never a ::text cast, whatever the type name", () => {
    // ::text differs from the output for boolean ('true' vs 't'), inet ('/32' added),
    // character(n) (padding dropped) and domains over them; see test/checksum/sql-equals-ts.test.ts.
    for (const type of ["boolean", "inet", "character(5)", "bpchar", "my_domain", "integer", "text[]"]) {
      const sql = textOutputSql(`t."c"`, type);
      expect(sql).toBe(`CASE WHEN num_nulls(t."c") = 1 THEN NULL ELSE format('%s', t."c") END`);
      expect(sql).not.toContain("::text");
    }
    expect(textOutputSql(`t."c"`)).toBe(textOutputSql(`t."c"`, "boolean"));
  });

  it("quotes identifiers always", () => {
    expect(quoteIdent(`Mixed "Case"`)).toBe(`"Mixed ""Case"""`);
    expect(textOutputSql(`t.${quoteIdent("a")}`, "integer")).toContain(`t."a"`);
  });
});

describe("RowChecksummer: the same checksum through a reused buffer", () => {
  /** The canonical encoding built the plain way, piece by piece. */
  function reference(names: readonly string[], values: readonly CellValue[]): string {
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(n);
      return b;
    };
    const parts: Buffer[] = [Buffer.from("zl1")];
    names.forEach((name, i) => {
      parts.push(u32(Buffer.byteLength(name)), Buffer.from(name));
      const v = values[i];
      if (v === null) parts.push(Buffer.from("n"));
      else if (v === UNCHANGED) parts.push(Buffer.from("u"));
      else parts.push(Buffer.from("v"), u32(Buffer.byteLength(v as string)), Buffer.from(v as string));
    });
    return createHash("sha256").update(Buffer.concat(parts)).digest("hex");
  }

  it("agrees with the plain encoding for rows small, multi-byte, and larger than its buffer, in any order", () => {
    const names = ["id", "naïve", "blob", "note"];
    const rows: CellValue[][] = [
      ["1", "é😀\u0301", null, UNCHANGED],
      ["2", "€".repeat(30_000), "x".repeat(70_000), ""], // 90 KB of 3-byte characters: past the 64 KiB buffer
      ["3", "a", null, "b"], // after growing
      ["4", "😀".repeat(600_000), "z", null], // 2.4 MB: past the size kept between rows
      ["5", "", "", ""],
    ];
    const one = new RowChecksummer(names);
    const other = new RowChecksummer(["x"]);
    for (const row of rows) {
      expect(one.checksum(row)).toBe(reference(names, row));
      expect(rowChecksum(names, row)).toBe(reference(names, row));
      expect(other.checksum([row[0] as string])).toBe(reference(["x"], [row[0] as string]));
    }
    expect(() => one.checksum(["1"])).toThrow(/4 column names but 1 values/);
  });
});
