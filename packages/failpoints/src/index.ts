export * from "./failpoints.js";
