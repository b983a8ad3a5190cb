// The HTTP face every service shows: /metrics (its own prom-client registry) and /healthz
// (200 when healthy, 503 when not, with the reason as JSON). Extra routes (the counter's
// API and dashboard) plug in through `routes`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { keepSecret, redact, ZerolossError } from "@zeroloss/errors";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { Logger } from "pino";

export interface Health {
  readonly healthy: boolean;
  /** One word: starting, snapshotting, streaming, stalled, waiting-for-kafka, failed. */
  readonly status: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  /** A file holding a bearer token every request but /healthz must carry (`Authorization: Bearer …`); read at start. */
  readonly tokenFile?: string | undefined;
  readonly registry: Registry;
  readonly health: () => Health;
  readonly log: Logger;
  readonly routes?: readonly Route[];
}

/**
 * prom-client's gauges named like counters (`nodejs_active_handles_total` and its two
 * siblings) fail `promtool check metrics`; the same numbers are served, by type, as
 * `zeroloss_nodejs_active_handles` and friends.
 */
const MISNAMED_DEFAULTS = /^zeroloss_nodejs_active_(handles|requests|resources)_total$/;

/** A registry for one process, with Node's default metrics under the `zeroloss_` prefix. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  const defaults = new Registry();
  collectDefaultMetrics({ register: defaults, prefix: "zeroloss_" });
  for (const { name } of defaults.getMetricsAsArray()) {
    const metric = defaults.getSingleMetric(name);
    if (metric !== undefined && !MISNAMED_DEFAULTS.test(name)) registry.registerMetric(metric);
  }
  return registry;
}

export interface RunningHttpServer {
  readonly port: number;
  close(): Promise<void>;
}

/** The counter dashboard's page (no data; it fetches /api/summary with the token): served without one. */
const PAGES = new Set(["/", "/dashboard"]);

/** Whether `header` is `Bearer <token>`, compared in constant time. */
function bearerMatches(header: string | undefined, token: Buffer): boolean {
  const given = Buffer.from(/^Bearer (.+)$/.exec(header ?? "")?.[1] ?? "");
  return given.length === token.length && timingSafeEqual(given, token);
}

export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const log = options.log.child({ component: "http" });
  let token: Buffer | null = null;
  if (options.tokenFile !== undefined) {
    const text = readFileSync(options.tokenFile, "utf8").trim();
    if (text.length < 16) throw new ZerolossError("CONFIG_INVALID", `the HTTP token in ${options.tokenFile} is shorter than 16 characters`, { details: { path: options.tokenFile } });
    keepSecret(text);
    token = Buffer.from(text);
  }
  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      log.error({ err, url: req.url }, "request failed");
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("internal error\n");
    });
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === "/healthz") {
      const h = options.health();
      res.writeHead(h.healthy ? 200 : 503, { "content-type": "application/json" });
      res.end(`${redact(JSON.stringify(h))}\n`); // its lastError is an error's text: no secret in it
      return;
    }
    // /healthz stays open for probes; everything else (metrics, API, dashboard data) needs the token.
    // The dashboard's page itself is served without it: it carries no data and asks for the token.
    if (token !== null && !(PAGES.has(url.pathname) && req.method === "GET") && !bearerMatches(req.headers.authorization, token)) {
      res.writeHead(401, { "content-type": "text/plain", "www-authenticate": 'Bearer realm="zeroloss"' });
      res.end("a bearer token is required (Authorization: Bearer <the token in http.tokenFile>)\n");
      return;
    }
    if (url.pathname === "/metrics") {
      const body = await options.registry.metrics();
      res.writeHead(200, { "content-type": options.registry.contentType });
      res.end(body);
      return;
    }
    for (const route of options.routes ?? []) if (await route(req, res, url)) return;
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found\n");
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ host: options.host, port, token: token !== null }, "serving /metrics and /healthz");
  return {
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
