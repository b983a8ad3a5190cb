// `zeroloss certificate keygen | issue | verify` through the real CLI against a real source
// and target. No pipeline runs: the target tables are made by hand with the same rows, plus
// the hidden `_zeroloss_lsn` column the consumer adds, which the table hash must leave out.
// Then: a proven certificate that verifies; a changed byte that does not; a target row changed
// afterwards that `verify --recheck` names; and a certificate issued over differing data,
// written with proven: false and exit 1.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { TestDatabase } from "@zeroloss/devstack";
import { databasePair, runCli } from "./run-cli.js";

const stack = inject("stack");

const zeroloss = (args: string[]) => runCli(args);

interface CertJson {
  proven: boolean;
  source: { database: string; hostPort: string; systemIdentifier: string | null; serverVersion: string };
  target: { database: string; hostPort: string };
  tables: { table: string; columns: string[]; key: string[]; source: { rows: number; hash: string }; target: { rows: number; hash: string } | null; equal: boolean }[];
  signature: { algorithm: string; publicKeyFingerprint: string; value: string };
}

const DDL = [
  "CREATE TABLE orders (id bigint PRIMARY KEY, amount numeric(12,2) NOT NULL, paid boolean, note text, at timestamptz)",
  `CREATE TABLE "Line Items" (order_id bigint, n int, data jsonb, addr inet, PRIMARY KEY (order_id, n))`,
  "CREATE TABLE skipped (id int PRIMARY KEY)",
  "CREATE TABLE events (kind text, n int)", // no key: hashed in row-checksum order, duplicates included
];

describe("zeroloss certificate", () => {
  const dir = mkdtempSync(join(tmpdir(), "zeroloss-certificate-"));
  const keys = join(dir, "keys");
  const certFile = join(dir, "cert.json");
  let src: TestDatabase;
  let tgt: TestDatabase;
  let s: pg.Client;
  let t: pg.Client;
  let config: string;

  beforeAll(async () => {
    ({ src, tgt, s, t } = await databasePair(stack, "cert", DDL));
    // As the consumer makes a target table: one hidden column more, holding each row's LSN.
    await t.query("ALTER TABLE orders ADD COLUMN _zeroloss_lsn pg_lsn");
    await t.query(`ALTER TABLE "Line Items" ADD COLUMN _zeroloss_lsn pg_lsn`);
    const fill = async (c: pg.Client, lsn: boolean) => {
      await c.query(
        `INSERT INTO orders (id, amount, paid, note, at${lsn ? ", _zeroloss_lsn" : ""})
         SELECT i, i * 1.25, i % 3 = 0, CASE WHEN i % 5 = 0 THEN NULL ELSE 'note ' || i || ' é' END, '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 hour'
                ${lsn ? ", ('0/' || to_hex(1000 + i))::pg_lsn" : ""}
           FROM generate_series(1, 200) i`,
      );
      await c.query(`INSERT INTO "Line Items" (order_id, n, data, addr) SELECT i / 3, i % 3, jsonb_build_object('k', i), '10.0.0.1'::inet FROM generate_series(1, 60) i`);
    };
    await fill(s, false);
    await fill(t, true);
    await s.query("INSERT INTO events VALUES ('a', 1), ('b', 2), ('a', 1), (NULL, 3)");
    // Inserted in another order on the target: a keyless table's hash must not depend on it.
    await t.query("INSERT INTO events VALUES (NULL, 3), ('a', 1), ('b', 2), ('a', 1)");
    await s.query("INSERT INTO skipped VALUES (1)"); // excluded: not on the target, and not certified
    writeFileSync(join(dir, "zeroloss.yaml"), stringify({ source: { url: src.url, tables: ["public.*"], exclude: ["public.skipped"] }, target: { url: tgt.url }, kafka: { brokers: [...stack.kafka] }, log: { level: "warn" } }));
    config = join(dir, "zeroloss.yaml");
  });

  afterAll(async () => {
    await s?.end();
    await t?.end();
    await src?.drop();
    await tgt?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keygen writes private.pem (0600) and public.pem, and never overwrites them", async () => {
    const r = await zeroloss(["certificate", "keygen", "--out-dir", keys]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(statSync(join(keys, "private.pem")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(keys, "public.pem"), "utf8")).toContain("BEGIN PUBLIC KEY");
    const before = readFileSync(join(keys, "private.pem"), "utf8");
    const again = await zeroloss(["certificate", "keygen", "--out-dir", keys]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("CERTIFICATE_KEY_EXISTS");
    expect(readFileSync(join(keys, "private.pem"), "utf8")).toBe(before);
  });

  it("issue: equal data gives exit 0, proven: true, equal hashes on both sides, and an HTML page", async () => {
    const html = join(dir, "cert.html");
    const r = await zeroloss(["certificate", "issue", "--config", config, "--private-key", join(keys, "private.pem"), "--out", certFile, "--html", html]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("proven: all 3 table(s) equal");
    expect(r.stderr).toMatch(/^source  public\.orders  200 rows/m);
    expect(r.stderr).toMatch(/^target  public\.Line Items  60 rows/m);
    const cert = JSON.parse(readFileSync(certFile, "utf8")) as CertJson;
    expect(cert.proven).toBe(true);
    expect(cert.tables.map((x) => x.table)).toEqual(["public.Line Items", "public.events", "public.orders"]);
    expect(cert.tables.find((x) => x.table === "public.events")).toMatchObject({ key: [], source: { rows: 4 } });
    for (const x of cert.tables) {
      expect(x.equal).toBe(true);
      expect(x.target).toEqual(x.source);
      expect(x.columns).not.toContain("_zeroloss_lsn");
    }
    expect(cert.tables.find((x) => x.table === "public.orders")?.source.rows).toBe(200);
    expect(cert.source.database).toBe(src.name);
    expect(cert.target.database).toBe(tgt.name);
    expect(cert.source.serverVersion).toMatch(/^\d+/);
    expect(JSON.stringify(cert)).not.toMatch(/postgres:\/\//); // no URL, so no credentials
    const page = readFileSync(html, "utf8");
    expect(page).toContain("public.Line Items");
    expect(page).toContain(cert.signature.publicKeyFingerprint);
  });

  it("verify: exit 0 for the certificate as issued, 1 after one byte of it changed, 1 with another key, 2 for a missing file", async () => {
    const pub = join(keys, "public.pem");
    const ok = await zeroloss(["certificate", "verify", certFile, "--public-key", pub]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("valid");

    const text = readFileSync(certFile, "utf8");
    const tampered = join(dir, "tampered.json");
    // One row more claimed for a table: one byte of the document.
    writeFileSync(tampered, text.replace('"rows": 200', '"rows": 201'));
    expect(readFileSync(tampered, "utf8")).not.toBe(text);
    const bad = await zeroloss(["certificate", "verify", tampered, "--public-key", pub]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain("signature mismatch");

    const otherKeys = join(dir, "other-keys");
    expect((await zeroloss(["certificate", "keygen", "--out-dir", otherKeys])).code).toBe(0);
    const wrongKey = await zeroloss(["certificate", "verify", certFile, "--public-key", join(otherKeys, "public.pem")]);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stdout).toContain("wrong key");

    const missing = await zeroloss(["certificate", "verify", join(dir, "nope.json"), "--public-key", pub]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("CERTIFICATE_UNREADABLE");
  });

  it("verify --recheck: exit 0 while the target is unchanged, 1 naming the table once a target row changed", async () => {
    const args = ["certificate", "verify", certFile, "--public-key", join(keys, "public.pem"), "--recheck", "--config", config];
    const same = await zeroloss(args);
    expect(same.code, same.stdout + same.stderr).toBe(0);
    expect(same.stdout).toContain("still hash to what was certified");

    // The hidden column is not content: changing it changes nothing the certificate states.
    await t.query("UPDATE orders SET _zeroloss_lsn = '0/FFFF' WHERE id = 1");
    expect((await zeroloss(args)).code).toBe(0);

    await t.query("UPDATE orders SET amount = amount + 0.01 WHERE id = 7");
    const changed = await zeroloss(args);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toMatch(/recheck: public\.orders differs/);
    expect(changed.stdout).not.toMatch(/Line Items differs/);
  });

  it("issue over differing data: exit 1, the certificate written with proven: false, the table not equal", async () => {
    const out = join(dir, "differs.json");
    const r = await zeroloss(["certificate", "issue", "--config", config, "--private-key", join(keys, "private.pem"), "--out", out]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain("NOT proven: 1 of 3 table(s) differ: public.orders");
    const cert = JSON.parse(readFileSync(out, "utf8")) as CertJson;
    expect(cert.proven).toBe(false);
    const orders = cert.tables.find((x) => x.table === "public.orders");
    expect(orders?.equal).toBe(false);
    expect(orders?.source.rows).toBe(orders?.target?.rows);
    expect(orders?.source.hash).not.toBe(orders?.target?.hash);
    // Still a valid, signed document: it proves what it says, that the data differed.
    expect((await zeroloss(["certificate", "verify", out, "--public-key", join(keys, "public.pem")])).code).toBe(0);
  });

  it("--tables narrows the certificate; a table the target lacks is not equal", async () => {
    await s.query("CREATE TABLE only_here (id int PRIMARY KEY)");
    const out = join(dir, "narrow.json");
    const r = await zeroloss(["certificate", "issue", "--config", config, "--private-key", join(keys, "private.pem"), "--out", out, "--tables", "public.only_here,public.Line*"]);
    expect(r.code, r.stderr).toBe(1);
    const cert = JSON.parse(readFileSync(out, "utf8")) as CertJson;
    expect(cert.tables.map((x) => [x.table, x.equal, x.target])).toEqual([
      ["public.Line Items", true, expect.objectContaining({ rows: 60 })],
      ["public.only_here", false, null],
    ]);
  });
});
