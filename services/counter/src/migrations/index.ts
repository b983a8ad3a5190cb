// The steps of the counter's ledger schema `zeroloss_counter`, in order: one file per step,
// numbered like its version. A new step is a new file appended here. The ledger is the
// counter's alone (`zeroloss status` and the dashboard read it through the counter's API),
// so its steps live in the counter service.
import type { Migration } from "@zeroloss/pg";
import { baseline } from "./001-baseline.js";

export const LEDGER_MIGRATIONS: readonly Migration[] = [baseline];
