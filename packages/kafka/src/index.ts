export * from "./client.js";
export * from "./topics.js";
export * from "./read.js";
export * from "./partition.js";
export * from "./follow.js";
export * from "./group-commit.js";
export * from "./group-service.js";
export * from "./checkpoint.js";
