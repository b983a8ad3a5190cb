// A manifest's hash is SHA-256 over its records' raw row checksums, in order (docs/envelope.md);
// the builder hashes them in groups, which must not change the result.
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ManifestBuilder } from "./manifest.js";

describe("ManifestBuilder", () => {
  it("hashes the raw checksums in order, whatever their number, and counts records per table", () => {
    for (const n of [0, 1, 1023, 1024, 1025, 3000]) {
      const sums = Array.from({ length: n }, () => randomBytes(32).toString("hex"));
      const b = new ManifestBuilder("transaction", "bank", 7, "0/10", "2026-11-21T00:00:00.000000Z");
      sums.forEach((s, i) => (i % 2 === 0 ? b.add("public.a", "zl.public.a", i % 3, s) : b.add("public.b", "zl.public.b", 0, s)));
      b.add("public.a", "zl.public.a", 0, null); // a truncate marker: counted, not hashed
      const { manifest: m, partitions } = b.build();
      if (n > 4) expect([...partitions].sort()).toEqual(["zl.public.a:0", "zl.public.a:1", "zl.public.a:2", "zl.public.b:0"]);
      const expected = createHash("sha256");
      for (const s of sums) expected.update(Buffer.from(s, "hex"));
      expect(m.hash, `${n} checksums`).toBe(expected.digest("hex"));
      expect(m.records).toBe(n + 1);
      expect(m.events).toEqual({ "public.a": Math.ceil(n / 2) + 1, ...(n > 1 ? { "public.b": Math.floor(n / 2) } : {}) });
    }
  });
});
