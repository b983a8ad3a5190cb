export * from "./envelope.js";
export * from "./control.js";
export * from "./topics.js";
export * from "./errors.js";
export * from "./reports.js";
export * from "./windows.js";
export * from "./copy-text.js";
export * from "./bulk.js";
