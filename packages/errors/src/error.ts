// The one error base class of zeroloss. Every error carries a stable `code` (scripts and
// tests match on it, never on message text) and says whether retrying can help, so a
// caller decides between backoff and a clean stop without parsing messages. Both come from
// the catalog (codes.ts): a call site names the code and cannot contradict its verdict.
import { ERROR_CODES, type ErrorCode } from "./codes.js";
import { redact } from "./secrets.js";

export interface ZerolossErrorOptions {
  readonly cause?: unknown;
  /** Facts for logs and JSON reports: table, column, offset, setting, path. */
  readonly details?: Readonly<Record<string, unknown>>;
}

export class ZerolossError extends Error {
  readonly code: ErrorCode;
  /** Retrying the same operation later may succeed (a connection refused, a broker election): the catalog's verdict on the code. */
  readonly retriable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: ZerolossErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = ERROR_CODES[code].retriable;
    this.details = options.details ?? {};
  }
}

export function isZerolossError(err: unknown): err is ZerolossError {
  return err instanceof ZerolossError;
}

/** A readable message for any thrown value, including its cause chain; secrets (keepSecret) redacted. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (current instanceof Error) {
      parts.push(current.message);
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return redact(parts.join(": caused by: "));
}
