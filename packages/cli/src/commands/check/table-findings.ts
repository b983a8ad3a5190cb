// Area 2, the tables source.tables and source.exclude choose: a key the producer can send
// each change under (a primary key or a REPLICA IDENTITY USING INDEX), replica identity FULL
// and NOTHING as the producer treats them, and column names zeroloss reserves in the target.
import { LSN_COLUMN, STAGING_PREFIX } from "@zeroloss/bookkeeping";
import { qualifiedName, quoteIdent, quoteTable, type ReplicaIdentityFacts, type TableInfo } from "@zeroloss/pg";
import type { Finding } from "./finding.js";

export interface TablePatterns {
  readonly tables: readonly string[];
  readonly exclude: readonly string[];
}

function keyFix(info: TableInfo, facts: ReplicaIdentityFacts | undefined): string {
  const t = quoteTable(info);
  const exclude = `or leave the table out: source.exclude: ["${qualifiedName(info)}"]`;
  if (facts?.hasPrimaryKey === true) return `ALTER TABLE ${t} REPLICA IDENTITY DEFAULT; (it has a primary key), ${exclude}`;
  const index = facts?.candidateIndexes[0];
  if (index !== undefined) {
    return `ALTER TABLE ${t} REPLICA IDENTITY USING INDEX ${quoteIdent(index)}; (a unique index on NOT NULL columns it has), or ALTER TABLE ${t} ADD PRIMARY KEY (…); ${exclude}`;
  }
  return `ALTER TABLE ${t} ADD PRIMARY KEY (…); or create a unique index on NOT NULL columns and ALTER TABLE ${t} REPLICA IDENTITY USING INDEX <index>; ${exclude}`;
}

function withoutKeyProblem(facts: ReplicaIdentityFacts | undefined): string {
  switch (facts?.identity) {
    case "nothing":
      return "has REPLICA IDENTITY NOTHING: its updates and deletes carry no key, so they could not be matched to rows in the target; the producer refuses the table";
    case "full":
      return (
        "has REPLICA IDENTITY FULL and no primary key: the whole old row identifies a change in the WAL, but zeroloss sends and merges rows by a key " +
        "(the Kafka key, the target's primary key); the producer refuses the table"
      );
    default:
      return "has no primary key and no REPLICA IDENTITY USING INDEX: its updates and deletes could not be matched to rows in the target; the producer refuses the table";
  }
}

export function tableFindings(infos: readonly TableInfo[], identities: ReadonlyMap<string, ReplicaIdentityFacts>, patterns: TablePatterns): Finding[] {
  if (infos.length === 0) {
    return [
      {
        area: "tables",
        severity: "error",
        check: "no-tables",
        object: { kind: "setting", name: "source.tables" },
        problem: `no table of the source matches ${JSON.stringify(patterns.tables)}${patterns.exclude.length > 0 ? ` minus source.exclude ${JSON.stringify(patterns.exclude)}` : ""}`,
        fix: "correct source.tables (schema.table patterns, * as wildcard) or source.exclude",
        code: "NO_TABLES",
      },
    ];
  }
  const out: Finding[] = [];
  for (const info of infos) {
    const name = qualifiedName(info);
    const facts = identities.get(name);
    if (info.keyColumns.length === 0) {
      out.push({ area: "tables", severity: "error", check: "table-without-key", object: { kind: "table", name }, problem: withoutKeyProblem(facts), fix: keyFix(info, facts), code: "TABLE_WITHOUT_KEY" });
    } else if (facts?.identity === "full") {
      out.push({
        area: "tables",
        severity: "warning",
        check: "replica-identity-full",
        object: { kind: "table", name },
        problem:
          `has REPLICA IDENTITY FULL: the producer keys its rows by the primary key (${info.keyColumns.join(", ")}) as for any table, and each update and delete ` +
          "also writes the whole old row to the WAL and into the record's before field (more WAL, larger records)",
        fix: `nothing, if wanted (it lets an update that changes the key keep unchanged large values: TOAST_VALUE_UNAVAILABLE); otherwise ALTER TABLE ${quoteTable(info)} REPLICA IDENTITY DEFAULT;`,
      });
    }
    for (const c of info.columns) {
      if (c.name !== LSN_COLUMN && !c.name.startsWith(STAGING_PREFIX)) continue;
      out.push({
        area: "tables",
        severity: "error",
        check: "reserved-column",
        object: { kind: "column", name: `${name}.${c.name}` },
        problem: `uses a name zeroloss reserves in the target (${LSN_COLUMN}, ${STAGING_PREFIX}*): the consumer refuses the table`,
        fix: `rename it at the source: ALTER TABLE ${quoteTable(info)} RENAME COLUMN ${quoteIdent(c.name)} TO …;`,
        code: "TARGET_COLUMN_RESERVED",
      });
    }
  }
  return out;
}
