// Connections to PostgreSQL. Every connection pins the output settings and returns values
// as PostgreSQL's own text (a per-connection type parser, never the process-wide
// pg.types), so checksums see exactly what the server produced.
import pg from "pg";
import { pgError } from "./errors.js";
import { pinnedOptions } from "./settings.js";

export type Client = pg.Client;

/** Per-connection parsers: every value stays the server's text output. */
const rawText: pg.CustomTypesConfig = {
  getTypeParser: (() => (value: string) => value) as unknown as pg.CustomTypesConfig["getTypeParser"],
};

export interface ConnectOptions {
  readonly applicationName: string;
  /** A walsender connection (`replication=database`) for slot commands. */
  readonly replication?: boolean;
  readonly connectTimeoutMs?: number;
  /**
   * A connection error while the client is idle (the server restarted, an administrator
   * terminated the session). Without a listener node-postgres would crash the process;
   * by default the error surfaces where it matters, as the failure of the next query.
   */
  readonly onIdleError?: (err: Error) => void;
}

export function clientConfig(url: string, options: ConnectOptions): pg.ClientConfig & { replication?: string } {
  return {
    connectionString: url,
    application_name: options.applicationName,
    options: pinnedOptions(),
    types: rawText,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    keepAlive: true,
    ...(options.replication === true ? { replication: "database" } : {}),
  };
}

/** Connects, mapping failures to clear ZerolossErrors (wrong password, missing database, unreachable). */
export async function connect(url: string, options: ConnectOptions): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(url, options));
  client.on("error", options.onIdleError ?? (() => undefined));
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw pgError(err, `${options.applicationName}: connecting to PostgreSQL`, url);
  }
  return client;
}

/** Runs one query; failures become ZerolossErrors that say what was being done. */
export async function query<R extends pg.QueryResultRow = Record<string, string | null>>(
  client: pg.Client,
  what: string,
  sql: string,
  params: readonly unknown[] = [],
): Promise<R[]> {
  try {
    const result = await client.query<R>(sql, params as unknown[]);
    return result.rows;
  } catch (err) {
    throw pgError(err, what);
  }
}
