// The schema registry client's own HTTP: https with kafka.registry.caFile's CA and basic auth
// on every request (the registry client library's and zeroloss's two plain GETs). A local
// https endpoint stands in for the registry's TLS front (what is tested is the client's
// trust and credentials, not a registry); the registry itself is tested in test/avro.
import { createServer } from "node:https";
import { mkdtempSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registryAgent, registryGet } from "@zeroloss/avro";
import { makeDevCertificates, type DevCertificates } from "@zeroloss/devstack";

describe("schema registry over https with basic auth", () => {
  let certs: DevCertificates;
  let other: DevCertificates;
  let url: string;
  const seen: (string | undefined)[] = [];
  let close: () => Promise<void>;

  beforeAll(async () => {
    certs = await makeDevCertificates(mkdtempSync(join(tmpdir(), "zeroloss-registry-tls-")));
    other = await makeDevCertificates(mkdtempSync(join(tmpdir(), "zeroloss-registry-other-")));
    const server = createServer({ cert: await readFile(certs.serverCertFile), key: await readFile(certs.serverKeyFile) }, (req, res) => {
      seen.push(req.headers.authorization);
      const ok = req.headers.authorization === `Basic ${Buffer.from("sr-key:sr-secret").toString("base64")}`;
      res.writeHead(ok ? 200 : 401, { "content-type": "application/json" });
      res.end(ok ? JSON.stringify({ compatibilityLevel: "FULL" }) : JSON.stringify({ error_code: 401 }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => new Promise((r) => server.close(() => r()));
  });

  afterAll(async () => {
    await close?.();
  });

  it("trusts caFile's CA and sends the credentials", async () => {
    const c = { url, username: "sr-key", password: "sr-secret", caFile: certs.caFile };
    const res = await registryGet(c, registryAgent(c), "/config/payments-value");
    expect(res).toEqual({ status: 200, text: JSON.stringify({ compatibilityLevel: "FULL" }) });
    expect(seen.at(-1)).toBe(`Basic ${Buffer.from("sr-key:sr-secret").toString("base64")}`);
  });

  it("a wrong secret is the registry's 401; a CA that did not sign its certificate is refused before any request", async () => {
    const wrong = { url, username: "sr-key", password: "nope", caFile: certs.caFile };
    expect((await registryGet(wrong, registryAgent(wrong), "/config/x")).status).toBe(401);
    const untrusted = { url, username: "sr-key", password: "sr-secret", caFile: other.caFile };
    const before = seen.length;
    await expect(registryGet(untrusted, registryAgent(untrusted), "/config/x")).rejects.toMatchObject({ code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
    expect(seen.length).toBe(before);
  });
});
