// What `zeroloss check` reports: findings, each naming the object at fault (a setting, a
// table, a column, a type, an extension, a role, a constraint, a trigger, a sequence), what
// is wrong with it and the fix, grouped by area. An error is something the pipeline would
// stop on or lose data over; a warning is something to know or decide before a migration
// that does not stop it. Only errors make the check fail: some warnings hold on every server
// (max_slot_wal_keep_size is either unlimited or a limit past which the slot is lost), so a
// check that failed on warnings could never pass.
import type { ErrorCode } from "@zeroloss/errors";

export type Severity = "error" | "warning";

/** The areas in the order they are reported. */
export const AREAS = ["source-settings", "tables", "types", "target-tables", "constraints", "sequences", "privileges"] as const;
export type Area = (typeof AREAS)[number];

export const AREA_TITLES: Readonly<Record<Area, string>> = {
  "source-settings": "Source settings",
  tables: "Tables and keys",
  types: "Types in the target",
  "target-tables": "Target tables",
  constraints: "Foreign keys and triggers in the target",
  sequences: "Sequences",
  privileges: "Privileges",
};

export type ObjectKind = "setting" | "table" | "column" | "type" | "extension" | "role" | "constraint" | "trigger" | "sequence";

/** A stable name for each kind of finding, for scripts reading --json. */
export type CheckId =
  | "wal-level"
  | "server-version"
  | "replication-slots"
  | "wal-senders"
  | "slot-wal-keep-size"
  | "slot-lost"
  | "slot-failover"
  | "synchronized-standby-slots"
  | "no-tables"
  | "table-without-key"
  | "replica-identity-full"
  | "reserved-column"
  | "type-missing"
  | "extension-missing"
  | "type-resolves-elsewhere"
  | "type-fix-failed"
  | "column-missing"
  | "column-extra"
  | "column-type"
  | "key-mismatch"
  | "lsn-column-type"
  | "foreign-key"
  | "trigger"
  | "sequence-not-replicated"
  | "privilege-missing";

export interface Finding {
  readonly area: Area;
  readonly severity: Severity;
  readonly check: CheckId;
  readonly object: { readonly kind: ObjectKind; readonly name: string };
  /** What is wrong, and what the pipeline would do about it. */
  readonly problem: string;
  /** What to do: a statement to run, a setting to change, a command. */
  readonly fix: string;
  /** The error code the pipeline would stop with, when it would (docs/errors.md). */
  readonly code?: ErrorCode;
}

/** A type `--fix` created in the target. */
export interface CreatedType {
  /** schema.name */
  readonly type: string;
  readonly kind: string;
  readonly sql: string;
}

export interface CheckReport {
  /** user@host:port/db of each side, without the password. */
  readonly source: string;
  readonly target: string;
  /** Tables source.tables and source.exclude choose. */
  readonly tables: number;
  /** Of those, the ones the target already has. */
  readonly targetTables: number;
  readonly findings: readonly Finding[];
  /** What --fix created (empty without --fix, or when there was nothing to create). */
  readonly created: readonly CreatedType[];
}

export const EXIT_READY = 0;
export const EXIT_PROBLEMS = 1;
/** The check could not be made: the configuration, or a database that could not be reached or read. */
export const EXIT_NOT_CHECKED = 2;

/** 0 when no finding is an error, 1 otherwise. */
export function checkExitCode(findings: readonly Finding[]): typeof EXIT_READY | typeof EXIT_PROBLEMS {
  return findings.some((f) => f.severity === "error") ? EXIT_PROBLEMS : EXIT_READY;
}

export interface CheckSummary {
  readonly errors: number;
  readonly warnings: number;
  /** No errors: the pipeline can start. */
  readonly ready: boolean;
  readonly exitCode: number;
  readonly tables: number;
  readonly targetTables: number;
  readonly created: number;
}

export function summarize(report: CheckReport): CheckSummary {
  const errors = report.findings.filter((f) => f.severity === "error").length;
  return {
    errors,
    warnings: report.findings.length - errors,
    ready: errors === 0,
    exitCode: checkExitCode(report.findings),
    tables: report.tables,
    targetTables: report.targetTables,
    created: report.created.length,
  };
}
