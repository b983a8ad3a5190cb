// Area 4, target tables that exist already: compared with the source's table by the rules
// the consumer fits a table by (services/consumer/src/target-schema.ts, prepareTable). With
// target.schemaChanges apply it adds a missing column, widens a type and drops NOT NULL of a
// column the source does not send; anything else, and everything under stop, stops the
// table's partitions. Each finding says which, so a warning is a change the consumer will
// make and an error one it will stop on. Tables the target lacks are the consumer's to create.
import { LSN_COLUMN } from "@zeroloss/bookkeeping";
import { qualifiedName, quoteIdent, quoteTable, widens, type TableInfo, type TargetTableShape } from "@zeroloss/pg";
import type { Finding } from "./finding.js";

export type SchemaChanges = "apply" | "stop";

export interface TableComparison {
  readonly findings: Finding[];
  /** What the consumer would ALTER in the table (it must own it for that); empty when nothing. */
  readonly alters: string[];
}

/**
 * `targetType(column)`: the target's rendering of the source column's type, or null when the
 * target does not have it (area 3 reports that; such a column is not compared here).
 */
export function compareTargetTable(source: TableInfo, target: TargetTableShape, targetType: (column: string) => string | null, schemaChanges: SchemaChanges): TableComparison {
  const name = qualifiedName(source);
  const t = quoteTable(source);
  const apply = schemaChanges === "apply";
  const mode = `target.schemaChanges is ${schemaChanges}`;
  const findings: Finding[] = [];
  const alters: string[] = [];
  const have = new Map(target.columns.map((c) => [c.name, c]));
  const column = (c: string) => ({ kind: "column" as const, name: `${name}.${c}` });
  for (const c of source.columns) {
    const want = targetType(c.name);
    const there = have.get(c.name);
    if (there === undefined) {
      const add = `ALTER TABLE ${t} ADD COLUMN ${quoteIdent(c.name)} ${want ?? c.sqlType};`;
      findings.push(
        apply
          ? {
              area: "target-tables",
              severity: "warning",
              check: "column-missing",
              object: column(c.name),
              problem: `is missing in the target (source type ${c.sqlType}); ${mode}: the consumer adds it before it writes the table`,
              fix: `nothing (or add it now: ${add})`,
            }
          : {
              area: "target-tables",
              severity: "error",
              check: "column-missing",
              object: column(c.name),
              problem: `is missing in the target (source type ${c.sqlType}); ${mode}: the consumer would stop the table's partitions`,
              fix: add,
              code: "TARGET_COLUMN_MISSING",
            },
      );
      if (apply) alters.push(`add column ${c.name}`);
      continue;
    }
    if (want === null || there.type === c.sqlType) continue;
    if (apply && widens(there.type, want)) {
      findings.push({
        area: "target-tables",
        severity: "warning",
        check: "column-type",
        object: column(c.name),
        problem: `is ${there.type} in the target but ${c.sqlType} in the source; ${mode}: the consumer widens it (a cast that cannot fail)`,
        fix: `nothing (or widen it now: ALTER TABLE ${t} ALTER COLUMN ${quoteIdent(c.name)} TYPE ${want};)`,
      });
      alters.push(`widen column ${c.name} to ${want}`);
      continue;
    }
    findings.push({
      area: "target-tables",
      severity: "error",
      check: "column-type",
      object: column(c.name),
      problem:
        `is ${there.type} in the target but ${c.sqlType} in the source; ${mode}: the consumer would stop the table's partitions` +
        (apply ? " (it changes a type only when it widens: this could lose or alter data)" : ""),
      fix: `make the target's type the source's: ALTER TABLE ${t} ALTER COLUMN ${quoteIdent(c.name)} TYPE ${want} USING ${quoteIdent(c.name)}::${want}; (if every value it holds fits), or drop the table and let the consumer create it`,
      code: "TARGET_COLUMN_TYPE",
    });
  }
  const sent = new Set(source.columns.map((c) => c.name));
  for (const c of target.columns) {
    if (sent.has(c.name) || c.name === LSN_COLUMN) continue;
    if (c.required && !target.key.includes(c.name)) {
      findings.push(
        apply
          ? {
              area: "target-tables",
              severity: "warning",
              check: "column-extra",
              object: column(c.name),
              problem: `is in the target only, NOT NULL without a default; ${mode}: the consumer drops its NOT NULL (it sends no value for it) and leaves it NULL in the rows it inserts`,
              fix: `nothing, if that is wanted; otherwise give it a DEFAULT (ALTER TABLE ${t} ALTER COLUMN ${quoteIdent(c.name)} SET DEFAULT …;) or drop it`,
            }
          : {
              area: "target-tables",
              severity: "error",
              check: "column-extra",
              object: column(c.name),
              problem: `is in the target only, NOT NULL without a default; ${mode}: every row the consumer inserts would be refused (PG_QUERY_FAILED) and the table's partitions stop`,
              fix: `ALTER TABLE ${t} ALTER COLUMN ${quoteIdent(c.name)} SET DEFAULT …; or ALTER TABLE ${t} ALTER COLUMN ${quoteIdent(c.name)} DROP NOT NULL; or drop the column`,
              code: "PG_QUERY_FAILED",
            },
      );
      if (apply) alters.push(`drop NOT NULL of column ${c.name}`);
      continue;
    }
    findings.push({
      area: "target-tables",
      severity: "warning",
      check: "column-extra",
      object: column(c.name),
      problem: "is in the target only: rows the consumer inserts hold its default (or NULL); zeroloss verify compares the source's columns only",
      fix: `nothing, if that is wanted; otherwise ALTER TABLE ${t} DROP COLUMN ${quoteIdent(c.name)};`,
    });
  }
  const key = source.keyColumns;
  const sameKey = key.length === 0 || (target.key.length === key.length && key.every((k) => target.key.includes(k)));
  if (!sameKey) {
    findings.push({
      area: "target-tables",
      severity: "error",
      check: "key-mismatch",
      object: { kind: "table", name },
      problem: `its primary key in the target is (${target.key.join(", ") || "none"}), the source's key is (${key.join(", ")}); the consumer stops on a different key whatever target.schemaChanges says`,
      fix: `give the target the source's key: ALTER TABLE ${t} ${target.key.length > 0 ? "DROP CONSTRAINT <its primary key>, " : ""}ADD PRIMARY KEY (${key.map(quoteIdent).join(", ")});`,
      code: "TARGET_KEY_MISMATCH",
    });
  }
  const lsn = have.get(LSN_COLUMN);
  if (lsn === undefined) {
    alters.push(`add its hidden column ${LSN_COLUMN}`);
  } else if (lsn.type !== "pg_lsn") {
    findings.push({
      area: "target-tables",
      severity: "error",
      check: "lsn-column-type",
      object: column(LSN_COLUMN),
      problem: `is ${lsn.type}; zeroloss keeps each row's applied LSN there as pg_lsn, and the consumer stops the table's partitions`,
      fix: `ALTER TABLE ${t} ALTER COLUMN ${quoteIdent(LSN_COLUMN)} TYPE pg_lsn USING NULL; (or drop it: the consumer adds it)`,
      code: "TARGET_COLUMN_TYPE",
    });
  }
  return { findings, alters };
}
