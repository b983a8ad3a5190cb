export * from "./error.js";
export { pollUntil, type PollOptions } from "./poll.js";
export { backoff, Sleeper, type Backoff } from "./retry.js";
