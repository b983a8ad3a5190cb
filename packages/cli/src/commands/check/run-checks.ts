// The preflight itself: every area read from the two databases and turned into findings, in
// the order they are reported. It only reads: the command opens both sessions read-only, and
// --fix writes in a transaction of its own, before this runs.
import type { Config } from "@zeroloss/config";
import {
  describeTable,
  describeUrl,
  missingCreatePrivileges,
  missingOwnership,
  missingSourcePrivileges,
  missingTargetPrivileges,
  qualifiedName,
  readForeignKeys,
  readOwnedSequences,
  readReplicaIdentities,
  readReplicationSettings,
  synchronizedStandbySlots,
  readTargetTable,
  readTriggers,
  resolveTables,
  slotStatus,
  type Client,
  type TableInfo,
  type TableName,
} from "@zeroloss/pg";
import { constraintFindings } from "./constraint-findings.js";
import type { CheckReport, CreatedType, Finding } from "./finding.js";
import { isPermissionDenied, privilegeFindings, schemaUsageFindings } from "./privilege-findings.js";
import { sequenceFindings } from "./sequence-findings.js";
import { settingsFindings } from "./settings-findings.js";
import { failoverFindings } from "./failover-findings.js";
import { tableFindings } from "./table-findings.js";
import { compareTargetTable } from "./target-table-findings.js";
import { checkTypes } from "./type-findings.js";

/** The chosen tables as the source's catalog describes them. */
export async function chosenTables(source: Client, config: Config): Promise<TableInfo[]> {
  const names = await resolveTables(source, config.source.tables, config.source.exclude);
  const infos: TableInfo[] = [];
  for (const n of names) infos.push(await describeTable(source, n));
  return infos;
}

export async function runChecks(source: Client, target: Client, config: Config, extra: { readonly created: readonly CreatedType[]; readonly findings: readonly Finding[] }): Promise<CheckReport> {
  const findings: Finding[] = [];

  // 1. The source server.
  const settings = await readReplicationSettings(source);
  const slot = await slotStatus(source, config.source.slot);
  findings.push(...settingsFindings(settings, slot));
  if (config.source.slotFailover) findings.push(...failoverFindings(settings, slot, true, await synchronizedStandbySlots(source)));

  // 2. The chosen tables and their keys.
  const infos = await chosenTables(source, config);
  const identities = await readReplicaIdentities(source, infos);
  findings.push(...tableFindings(infos, identities, config.source));

  // 3. Types the target lacks (a failed --fix is reported here too).
  const types = await checkTypes(source, target, infos);
  findings.push(...extra.findings, ...types.findings);

  // 4. Target tables that exist, against the source's.
  const existing: TableInfo[] = [];
  const absent: TableName[] = [];
  const alters: { table: TableName; why: string }[] = [];
  const deniedSchemas = new Map<string, string[]>([...types.deniedSchemas.entries()].map(([k, v]) => [k, [...v]]));
  for (const info of infos) {
    const shape = await readTargetTable(target, info).catch((err: unknown) => {
      if (!isPermissionDenied(err)) throw err;
      deniedSchemas.set(info.schema, [...(deniedSchemas.get(info.schema) ?? []), `table ${qualifiedName(info)}`]);
      return undefined;
    });
    if (shape === undefined) continue;
    if (shape === null) {
      absent.push(info);
      continue;
    }
    existing.push(info);
    const cmp = compareTargetTable(info, shape, (column) => types.targetType(info, column), config.target.schemaChanges);
    findings.push(...cmp.findings);
    if (cmp.alters.length > 0) alters.push({ table: info, why: cmp.alters.join(", ") });
  }

  // 5. What the target does by itself on a write.
  findings.push(...constraintFindings(await readForeignKeys(target, existing), await readTriggers(target, existing), config.target.sessionReplicationRole));

  // 6. Sequences the rows' values come from.
  findings.push(...sequenceFindings(await readOwnedSequences(source, infos)));

  // 7. The services' roles.
  const producer = await missingSourcePrivileges(source, infos, config.source.publication);
  const consumer = await missingTargetPrivileges(target, existing, { replicaRole: config.target.sessionReplicationRole === "replica" });
  const creating = await missingCreatePrivileges(target, absent);
  const owning = await missingOwnership(target, alters);
  const targetGaps = [...consumer.missing, ...creating.missing, ...owning.missing];
  findings.push(
    ...schemaUsageFindings(consumer.role, deniedSchemas, targetGaps),
    ...privilegeFindings([
      { service: "producer", side: "source", ...producer },
      { service: "consumer", side: "target", ...consumer },
      { service: "consumer", side: "target", ...creating },
      { service: "consumer", side: "target", ...owning },
    ]),
  );

  return {
    source: describeUrl(config.source.url),
    target: describeUrl(config.target.url),
    tables: infos.length,
    targetTables: existing.length,
    findings,
    created: extra.created,
  };
}

