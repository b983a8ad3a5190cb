// Turns node-postgres and network failures into ZerolossErrors with stable codes, so an
// operator reads "wrong password for user x" instead of a stack trace, and callers know
// whether a retry can help.
import { describeError, tlsFailure, ZerolossError } from "@zeroloss/errors";

interface PgLikeError {
  code?: unknown;
  message?: unknown;
}

/** Names a connection without its password, for messages and logs. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    const db = decodeURIComponent(u.pathname.replace(/^\//, "")) || "(default)";
    return `${u.username ? `${decodeURIComponent(u.username)}@` : ""}${u.hostname}:${u.port || "5432"}/${db}`;
  } catch {
    return "(unparsable URL)";
  }
}

const RETRIABLE_NETWORK = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

/**
 * SQLSTATEs of a server that cannot serve now (a connection exception, shutting down,
 * starting up, no connection slot free): the same outage as a refused connection.
 */
function unavailableSqlState(code: string): boolean {
  return code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03" || code === "53300";
}

/** Serialization failure, deadlock: the transaction lost to another session, and runs again. */
const CONFLICT_SQLSTATES = new Set(["40001", "40P01"]);

export function pgError(err: unknown, what: string, url?: string): ZerolossError {
  if (err instanceof ZerolossError) return err;
  const e = (err ?? {}) as PgLikeError;
  const code = typeof e.code === "string" ? e.code : "";
  const message = typeof e.message === "string" ? e.message : String(err);
  const where = url === undefined ? "" : ` (${describeUrl(url)})`;
  if (code === "28P01" || code === "28000") {
    return new ZerolossError("PG_AUTH_FAILED", `${what}${where}: authentication failed: ${message}`, { cause: err, details: { sqlstate: code } });
  }
  const tls = tlsFailure(err);
  if (tls !== null) {
    return new ZerolossError("PG_TLS_FAILED", `${what}${where}: TLS: ${tls.reason} (${tls.code}); ${tls.fix} (the URL's sslmode, sslrootcert, sslcert, sslkey)`, {
      cause: err,
      details: { tls: tls.code },
    });
  }
  if (/does not support SSL/i.test(message)) {
    return new ZerolossError("PG_TLS_FAILED", `${what}${where}: the server does not accept TLS connections, yet the URL asks for TLS (sslmode)`, { cause: err, details: { tls: "NO_SSL" } });
  }
  if (code === "3D000") {
    return new ZerolossError("PG_DATABASE_MISSING", `${what}${where}: ${message}`, { cause: err, details: { sqlstate: code } });
  }
  // node-postgres says "encountered a connection error and is not queryable" when a pooled
  // client's connection died while idle (a server restart): an outage, not a bug.
  if (RETRIABLE_NETWORK.has(code) || /Connection terminated|connection timeout|terminating connection|encountered a connection error/i.test(message)) {
    return new ZerolossError("PG_UNREACHABLE", `${what}${where}: ${message}`, { cause: err, details: { errno: code } });
  }
  if (code !== "" && /^[0-9A-Z]{5}$/.test(code)) {
    const kind = unavailableSqlState(code) ? "PG_UNREACHABLE" : CONFLICT_SQLSTATES.has(code) ? "PG_CONFLICT" : "PG_QUERY_FAILED";
    return new ZerolossError(kind, `${what}${where}: ${message} (SQLSTATE ${code})`, { cause: err, details: { sqlstate: code } });
  }
  return new ZerolossError("PG_FAILED", `${what}${where}: ${message}`, { cause: err });
}

/**
 * Any failure a service meets, as a ZerolossError: its own errors as they are, errors
 * carrying a PostgreSQL SQLSTATE or a network errno through pgError, anything else (a bug)
 * as UNEXPECTED and not retriable.
 */
export function serviceError(err: unknown, what: string): ZerolossError {
  if (err instanceof ZerolossError) return err;
  const code = (err as PgLikeError | null)?.code;
  if (err instanceof Error && typeof code === "string" && /^[0-9A-Z]{5}$|^E[A-Z]+$/.test(code)) return pgError(err, what);
  return new ZerolossError("UNEXPECTED", `${what}: ${describeError(err)}`, { cause: err });
}
