export * from "./error.js";
export { pollUntil, type PollOptions } from "./poll.js";
