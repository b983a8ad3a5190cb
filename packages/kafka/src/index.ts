export * from "./client.js";
export * from "./topics.js";
export * from "./read.js";
