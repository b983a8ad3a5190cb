export * from "./error.js";
export { pollUntil, withDeadline, type PollOptions } from "./poll.js";
export { backoff, Sleeper, type Backoff } from "./retry.js";
