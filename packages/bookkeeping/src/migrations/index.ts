// The steps of schema `zeroloss`, in order: one file per step, numbered like its version.
// A new step is a new file appended here; tables.ts is then changed to describe the
// schema as the last step leaves it (test/consumer/bookkeeping-upgrade.test.ts compares the two).
import type { Migration } from "@zeroloss/pg";
import { baseline } from "./001-baseline.js";

export const BOOKKEEPING_MIGRATIONS: readonly Migration[] = [baseline];
