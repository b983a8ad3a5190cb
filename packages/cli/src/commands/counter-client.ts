// Reading the counter's summary (GET /api/summary) the way every command does: its address
// and bearer token from the configuration (counter.http), a timeout, and a failure that names
// the URL. `zeroloss status` and `zeroloss cutover` read it here.
import { readSecretFile, type Config } from "@zeroloss/config";
import { ZerolossError } from "@zeroloss/errors";
import type { Summary } from "@zeroloss/wire";

/** The counter's base URL from its listen address: a wildcard host is reached on loopback. */
export function counterUrl(http: { host: string; port: number }): string {
  const host = http.host === "0.0.0.0" || http.host === "::" ? "127.0.0.1" : http.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${http.port}`;
}

export interface CounterEndpoint {
  readonly base: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** The counter as the configuration names it; `url` in place of counter.http's address. */
export function counterEndpoint(config: Config | null, url?: string): CounterEndpoint {
  if (url === undefined && config === null) throw new Error("counterEndpoint needs a configuration or a URL");
  const base = url ?? counterUrl((config as Config).counter.http);
  const tokenFile = config?.counter.http.tokenFile;
  return { base, headers: tokenFile === undefined ? {} : { authorization: `Bearer ${readSecretFile(tokenFile).trim()}` } };
}

/** The summary; COUNTER_UNREACHABLE (retriable) when the counter does not answer with one. */
export async function fetchSummary(endpoint: CounterEndpoint): Promise<Summary> {
  try {
    const res = await fetch(new URL("/api/summary", endpoint.base), { signal: AbortSignal.timeout(10_000), headers: endpoint.headers });
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 500)}`);
    return (await res.json()) as Summary;
  } catch (err) {
    throw new ZerolossError("COUNTER_UNREACHABLE", `the counter at ${endpoint.base} cannot be reached: ${(err as Error).message}`, { cause: err });
  }
}
