export * from "./lsn.js";
export * from "./settings.js";
export * from "./errors.js";
export * from "./connect.js";
export * from "./pgoutput.js";
export * from "./catalog.js";
export * from "./replication.js";
export * from "./stream.js";
