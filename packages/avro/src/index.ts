export * from "./values.js";
export * from "./schema.js";
export * from "./codec.js";
export * from "./reader.js";
export * from "./registry-http.js";
