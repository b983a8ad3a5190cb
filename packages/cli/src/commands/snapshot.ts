// `zeroloss snapshot --table <schema.table>…`: snapshot tables again while the producer
// streams (a table repaired by hand, a target restored from an older backup). The request is
// a transactional logical message on the source (SNAPSHOT_REQUEST_PREFIX): it reaches the
// producer through its replication slot, in commit order, and the producer then reads the
// tables with the watermark method while every other change flows (docs/producer.md, "A
// snapshot on demand"). A producer that is not running finds the request when it starts.
import { loadConfig } from "@zeroloss/config";
import { connect, describeTable, describeUrl, publishedTables, qualifiedName, query, resolveTables, slotStatus } from "@zeroloss/pg";
import { SNAPSHOT_REQUEST_PREFIX, type SnapshotRequest } from "@zeroloss/wire";

export interface SnapshotCommandOptions {
  readonly config?: string;
  readonly table: readonly string[];
}

/** Exit 0: requested; 2: a table the producer does not stream (nothing requested); 1: the source failed. */
export async function snapshotCommand(options: SnapshotCommandOptions): Promise<number> {
  const config = await loadConfig({ ...(options.config === undefined ? {} : { file: options.config }), env: process.env });
  const client = await connect(config.source.url, { applicationName: "zeroloss-cli" });
  client.on("error", () => undefined);
  try {
    const matching = new Set((await resolveTables(client, config.source.tables, config.source.exclude)).map(qualifiedName));
    const published = new Set((await publishedTables(client, config.source.publication)).map(qualifiedName));
    const problems: string[] = [];
    for (const table of options.table) {
      if (!matching.has(table)) {
        problems.push(`${table} does not exist or does not match source.tables ${JSON.stringify(config.source.tables)}${config.source.exclude.length > 0 ? ` minus source.exclude ${JSON.stringify(config.source.exclude)}` : ""}`);
        continue;
      }
      if (!published.has(table)) {
        problems.push(`${table} is not in publication ${config.source.publication} yet: the producer adds it, with its snapshot, by itself (source.snapshot.newTablesSeconds)`);
        continue;
      }
      const dot = table.indexOf(".");
      const info = await describeTable(client, { schema: table.slice(0, dot), name: table.slice(dot + 1) });
      if (info.keyColumns.length === 0) problems.push(`${table} has no primary key or replica identity index: its rows cannot be snapshotted by key`);
    }
    const slot = await slotStatus(client, config.source.slot);
    if (!slot.exists) problems.push(`replication slot ${config.source.slot} does not exist: the producer's first start snapshots every table anyway`);
    if (problems.length > 0) {
      process.stderr.write(`zeroloss: nothing requested:\n${problems.map((p) => `  ${p}\n`).join("")}`);
      return 2;
    }
    const request: SnapshotRequest = { v: 1, tables: [...options.table], at: new Date().toISOString() };
    const lsn = (await query<{ lsn: string }>(client, "writing the snapshot request", "SELECT pg_logical_emit_message(true, $1, $2)::text AS lsn", [SNAPSHOT_REQUEST_PREFIX, JSON.stringify(request)]))[0]?.lsn;
    process.stdout.write(
      `requested a snapshot of ${options.table.join(", ")} on ${describeUrl(config.source.url)} (at LSN ${lsn ?? "?"}). ` +
        `The producer reads ${options.table.length === 1 ? "it" : "them"} while streaming once its stream reaches that position (a stopped producer, when it starts): ` +
        `watch its log ("snapshot requested") and zeroloss_producer_snapshot_rows{table=...}.\n`,
    );
    return 0;
  } finally {
    await client.end().catch(() => undefined);
  }
}
