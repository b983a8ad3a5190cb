export { ERROR_CODES, isErrorCode, type ErrorArea, type ErrorCode, type ErrorCodeInfo } from "./codes.js";
export * from "./error.js";
export { pollUntil, withDeadline, type PollOptions } from "./poll.js";
export { backoff, Sleeper, type Backoff } from "./retry.js";
export { forgetSecret, keepSecret, MIN_SECRET_LENGTH, redact, REDACTED } from "./secrets.js";
export { tlsFailure, type TlsFailure } from "./tls.js";
