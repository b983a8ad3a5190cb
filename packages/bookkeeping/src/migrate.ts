// Creating and upgrading schema `zeroloss` in the target: the consumer runs this at every
// start (migrations/ holds the steps, @zeroloss/pg's runner applies the missing ones).
import { migrate, type AppliedStep, type Client, type MigrateResult } from "@zeroloss/pg";
import { BOOKKEEPING_MIGRATIONS } from "./migrations/index.js";
import { BOOKKEEPING_SCHEMA } from "./tables.js";

/**
 * The advisory lock the steps take: "zero", the key the consumer's DDL took before numbered
 * migrations, so a consumer of that release starting beside this one waits for it too.
 */
export const BOOKKEEPING_LOCK = 0x7a65726f;

/**
 * Brings the target's `zeroloss` schema to this release's version; refuses (SCHEMA_NEWER_THAN_CODE,
 * not retriable) a schema a newer release migrated. `onApplied` hears of each step applied.
 */
export function migrateBookkeeping(client: Client, onApplied?: (step: AppliedStep) => void): Promise<MigrateResult> {
  return migrate(client, {
    schema: BOOKKEEPING_SCHEMA,
    what: "the consumer's bookkeeping in the target",
    lock: BOOKKEEPING_LOCK,
    migrations: BOOKKEEPING_MIGRATIONS,
    ...(onApplied === undefined ? {} : { onApplied }),
  });
}
