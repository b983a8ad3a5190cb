import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalBytes, canonicalJson } from "./canonical.js";
import { configFingerprint, urlWithoutPassword } from "./fingerprint.js";
import { escapeHtml, renderHtml } from "./html.js";
import { signCertificate, verifyCertificate, verifyCertificateText } from "./signature.js";
import { tableHashSql } from "./table-hash.js";
import type { UnsignedCertificate } from "./types.js";

function keyPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), publicPem: publicKey.export({ type: "spki", format: "pem" }).toString() };
}

const HASH_A = "a".repeat(64);
const identity = (db: string) => ({ systemIdentifier: "7301234567890123456", database: db, hostPort: "127.0.0.1:5432", serverVersion: "17.2" });

function unsigned(tableName = "public.orders"): UnsignedCertificate {
  return {
    version: 1,
    issuedAt: "2026-12-06T21:00:00.000Z",
    zerolossVersion: "0.1.0",
    configFingerprint: "b".repeat(64),
    source: identity("src"),
    target: identity("tgt"),
    tables: [{ table: tableName, columns: ["id", "amount"], key: ["id"], source: { rows: 3, hash: HASH_A }, target: { rows: 3, hash: HASH_A }, equal: true }],
    proven: true,
  };
}

describe("canonicalJson", () => {
  it("does not depend on key order, at any depth, and has no whitespace", () => {
    const a = { b: 1, a: { y: [1, { q: 1, p: 2 }], x: "s" } };
    const b = { a: { x: "s", y: [1, { p: 2, q: 1 }] }, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"x":"s","y":[1,{"p":2,"q":1}]},"b":1}');
  });

  it("leaves undefined members out and keeps array order", () => {
    expect(canonicalJson({ a: undefined, b: [2, 1] })).toBe('{"b":[2,1]}');
  });

  it("gives the same signed bytes for a certificate however its keys were ordered", () => {
    const u = unsigned();
    const reordered = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(u).reverse()))) as UnsignedCertificate;
    expect(canonicalBytes(reordered).equals(canonicalBytes(u))).toBe(true);
  });
});

describe("signCertificate and verifyCertificate", () => {
  const keys = keyPair();
  const cert = signCertificate(unsigned(), keys.privatePem);
  const text = `${JSON.stringify(cert, null, 2)}\n`;

  it("verifies what it signed, also after a round trip through JSON with other key order", () => {
    expect(verifyCertificate(cert, keys.publicPem)).toEqual({ ok: true, reason: null });
    expect(verifyCertificateText(text, keys.publicPem).ok).toBe(true);
    const reordered = JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(text) as object).reverse()));
    expect(verifyCertificateText(reordered, keys.publicPem).ok).toBe(true);
    expect(cert.signature.algorithm).toBe("ed25519");
    expect(cert.signature.publicKeyFingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it("fails for a changed byte anywhere in the JSON", () => {
    const bytes = Buffer.from(text, "utf8");
    const passed: number[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const changed = Buffer.from(bytes);
      changed[i] = bytes[i] === 0x78 ? 0x79 : 0x78; // 'x', or 'y' where there was an 'x'
      if (verifyCertificateText(changed.toString("utf8"), keys.publicPem).ok) passed.push(i);
    }
    expect(passed).toEqual([]);
  });

  it("names what failed: the signature, the key, the version, a field", () => {
    const tampered = { ...cert, tables: [{ ...cert.tables[0], target: { rows: 4, hash: HASH_A } }] };
    expect(verifyCertificate(tampered, keys.publicPem).reason).toMatch(/^signature mismatch/);
    expect(verifyCertificate(cert, keyPair().publicPem).reason).toMatch(/^wrong key/);
    expect(verifyCertificate({ ...cert, version: 2 }, keys.publicPem).reason).toMatch(/^unknown version 2/);
    expect(verifyCertificate({ ...cert, proven: "yes" }, keys.publicPem).reason).toBe("malformed field proven");
    expect(verifyCertificate({ ...cert, extra: 1 }, keys.publicPem).reason).toBe("malformed field extra (unknown field)");
    const { issuedAt: _i, ...withoutIssuedAt } = cert;
    expect(verifyCertificate(withoutIssuedAt, keys.publicPem).reason).toBe("malformed field issuedAt (missing)");
  });

  it("fails with another key even when the fingerprint is forged to match it", () => {
    const other = keyPair();
    const forged = signCertificate(unsigned(), other.privatePem);
    const claimed = { ...forged, signature: { ...forged.signature, publicKeyFingerprint: cert.signature.publicKeyFingerprint } };
    expect(verifyCertificate(claimed, keys.publicPem).reason).toMatch(/^signature mismatch/);
  });

  it("refuses a key that is not Ed25519", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" }).toString();
    expect(() => verifyCertificate(cert, rsa)).toThrow(expect.objectContaining({ code: "CERTIFICATE_KEY_INVALID" }));
    expect(() => signCertificate(unsigned(), "not a key")).toThrow(expect.objectContaining({ code: "CERTIFICATE_KEY_INVALID" }));
  });
});

describe("renderHtml", () => {
  it("escapes every string: a table named <script> stays text", () => {
    const keys = keyPair();
    const html = renderHtml(signCertificate(unsigned('public.<script>alert("x")</script>'), keys.privatePem));
    expect(html).not.toContain("<script");
    expect(html).toContain("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;");
    expect(html).toContain("The JSON file it was made from is the signed document.");
    expect(html).toContain("zeroloss certificate verify");
  });

  it("escapes the five HTML specials", () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe("&#60;a href=&#34;x&#34; title=&#39;y&#39;&#62;&#38;&#60;/a&#62;");
  });
});

describe("configFingerprint", () => {
  it("never depends on a password, in a URL or in a password key", () => {
    const config = (pw: string) => ({
      source: { url: `postgres://zl:${pw}@db:5432/app?sslmode=require&password=${pw}`, passwordFile: "/run/secrets/pg" },
      kafka: { sasl: { mechanism: "plain", username: "u", password: pw } },
    });
    expect(configFingerprint(config("one-secret"))).toBe(configFingerprint(config("another-secret")));
    expect(configFingerprint(config("x"))).not.toBe(configFingerprint({ ...config("x"), source: { ...config("x").source, passwordFile: "/elsewhere" } }));
    expect(urlWithoutPassword("postgres://zl:secret@db:5432/app")).toBe("postgres://zl@db:5432/app");
  });
});

describe("tableHashSql", () => {
  it("hashes the given columns in key order, with quoted identifiers, and an empty table to sha256 of nothing", () => {
    const sql = tableHashSql({ schema: "Sales", name: "order items", columns: ["id", "Amount"], key: ["id"] });
    expect(sql).toContain('FROM "Sales"."order items" t');
    expect(sql).toContain('ORDER BY t."id"');
    expect(sql).toContain("format('%s', t.\"Amount\")");
    expect(sql).toContain("coalesce(string_agg(decode(");
    expect(sql).not.toContain("_zeroloss_lsn");
  });
});
