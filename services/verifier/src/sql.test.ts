import { describe, expect, it } from "vitest";
import { rangeCondition, rowsByKey, splitPoints, type SideTable } from "./sql.js";

const side: SideTable = { quoted: '"public"."entries"', columns: ["account", "seq", "amount"], key: ["account", "seq"], keyTypes: ["text", "integer"] };

describe("verifier SQL", () => {
  it("a range is a row comparison over the bound's key prefix, every value a typed parameter", () => {
    const params: string[] = [];
    expect(rangeCondition(side, { lo: ["acct-1"], hi: ["acct-3", "7"] }, params)).toBe(
      '(t."account") >= ($1::text) AND (t."account", t."seq") < ($2::text, $3::integer)',
    );
    expect(params).toEqual(["acct-1", "acct-3", "7"]);
    expect(rangeCondition(side, { lo: null, hi: null }, [])).toBe("true");
  });

  it("split points number their parameters after the range's", () => {
    const s = splitPoints(side, { lo: ["a", "1"], hi: null }, 250);
    expect(s.params).toEqual(["a", "1", "250"]);
    expect(s.sql).toContain("rn % $3::int8 = 1");
    expect(s.sql).toContain('ORDER BY t."account", t."seq"');
  });

  it("identifiers are quoted, values never interpolated", () => {
    const odd: SideTable = { quoted: '"we""ird"."t"', columns: ['a"b'], key: ['a"b'], keyTypes: ["text"] };
    const s = rowsByKey(odd, [["x'); DROP TABLE t; --"]]);
    expect(s.sql).toContain('t."a""b"');
    expect(s.sql).not.toContain("DROP TABLE");
    expect(s.params).toEqual(["x'); DROP TABLE t; --"]);
  });
});
