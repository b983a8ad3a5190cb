export * from "./tables.js";
export { BOOKKEEPING_MIGRATIONS } from "./migrations/index.js";
export { BOOKKEEPING_LOCK, migrateBookkeeping } from "./migrate.js";
export { readAppliedPositions } from "./applied-positions.js";
export { LSN_COLUMN, STAGING_PREFIX } from "./hidden-columns.js";
