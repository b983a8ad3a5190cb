// How zeroloss reaches a schema registry: kafka.registry of zeroloss.yaml (URL, basic auth,
// the CAs to trust for https) as the registry client's options, and the two plain GETs the
// client has no method for. One place, so the client and the GETs cannot disagree on auth.
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";

/** kafka.registry (packages/config), its passwordFile already read into password. */
export interface RegistryConnection {
  readonly url: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly caFile?: string | undefined;
}

/** A registry given by URL alone (tests, tools). */
export function registryAt(url: string): RegistryConnection {
  return { url };
}

/** The agent for the registry's URL: https with caFile's CAs (else Node.js's bundled ones), or plain http. */
export function registryAgent(c: RegistryConnection): http.Agent {
  if (!c.url.startsWith("https:")) return new http.Agent({ keepAlive: true });
  return new https.Agent({ keepAlive: true, ...(c.caFile === undefined ? {} : { ca: [readFileSync(c.caFile, "utf8")] }) });
}

/** Basic auth for the registry client, when a username is configured. */
export function registryAuth(c: RegistryConnection): { username: string; password: string } | undefined {
  return c.username === undefined ? undefined : { username: c.username, password: c.password ?? "" };
}

/** GET `path` of the registry: its status and body text. */
export function registryGet(c: RegistryConnection, agent: http.Agent, path: string): Promise<{ status: number; text: string }> {
  const url = new URL(c.url.replace(/\/$/, "") + path);
  const auth = registryAuth(c);
  const headers: Record<string, string> = { accept: "application/vnd.schemaregistry.v1+json, application/json" };
  if (auth !== undefined) headers["authorization"] = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
  const request = url.protocol === "https:" ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "GET", agent, headers, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url.pathname}: no answer within 30 s`)));
    req.on("error", reject);
    req.end();
  });
}
