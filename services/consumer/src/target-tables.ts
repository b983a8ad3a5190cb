// The target tables the consumer writes to, each prepared once per table and column list:
// a new list (the source's DDL) fits the target table to it first (target.schemaChanges).
// Preparations run one after another on the consumer's one DDL connection: two on one
// session would interleave their transactions.
import { connect, type Client, type TableName } from "@zeroloss/pg";
import type { Envelope, EnvelopeReading } from "@zeroloss/wire";
import type { Logger } from "pino";
import type { ConsumerMetrics } from "./metrics.js";
import { bareTable, prepareTable, type TargetTable } from "./target-schema.js";

export interface TargetTablesOptions {
  readonly url: string;
  readonly schemaChanges: "apply" | "stop";
  /** Tells an envelope's column list (as JSON) without re-encoding it. */
  readonly decoder: Pick<EnvelopeReading, "columnsJson">;
  readonly metrics: ConsumerMetrics;
  readonly log: Logger;
}

export class TargetTables {
  /** Per table and column list (JSON): the target table prepared for it. */
  private readonly prepared = new Map<string, Promise<TargetTable>>();
  /** Per table: the last column list prepared, for truncate markers (which carry none). */
  private readonly latest = new Map<string, Promise<TargetTable>>();
  private queue: Promise<void> = Promise.resolve();
  private ddl: Client | null = null;

  constructor(private readonly o: TargetTablesOptions) {}

  /** The DDL connection (opened on first use): preparations, and the consumer's start-up checks. */
  async connection(): Promise<Client> {
    this.ddl ??= await connect(this.o.url, { applicationName: "zeroloss-consumer" });
    return this.ddl;
  }

  /** The target table for an envelope's column list. A truncate marker carries no columns: it takes the table's latest prepared list. */
  of(env: Envelope): Promise<TargetTable> {
    const name: TableName = { schema: env.source.schema, name: env.source.table };
    const byName = JSON.stringify([name.schema, name.name]);
    if (env.op === "t") {
      // Without a prepared list (a restart's first record of the table is its truncate) the
      // table is taken as it is: a truncate names no column.
      return this.latest.get(byName) ?? Promise.resolve(bareTable(name));
    }
    const k = `${byName}${this.o.decoder.columnsJson(env)}`;
    let t = this.prepared.get(k);
    if (t === undefined) {
      t = this.queue.then(async () => {
        const changes: string[] = [];
        const prepared = await prepareTable(await this.connection(), name, env.columns, this.o.schemaChanges, changes, env.source.lsn);
        if (changes.length > 0) {
          // Other column lists of this table were prepared against the table as it was.
          for (const key of this.prepared.keys()) if (key !== k && key.startsWith(byName)) this.prepared.delete(key);
          this.o.metrics.schemaChanges.inc({ table: `${name.schema}.${name.name}` }, changes.length);
          this.o.log.info({ table: `${name.schema}.${name.name}`, lsn: env.source.lsn, changes }, "target table altered to the source's new columns");
        }
        return prepared;
      });
      this.queue = t.then(
        () => undefined,
        () => undefined, // the failure is the caller's (below); the queue goes on
      );
      this.prepared.set(k, t);
      this.latest.set(byName, t);
      t.catch(() => {
        this.prepared.delete(k); // the next batch tries again (a retriable failure) or stops with it
        if (this.latest.get(byName) === t) this.latest.delete(byName);
        if (this.ddl !== null) {
          void this.ddl.end().catch(() => undefined); // its state is unknown after a failure
          this.ddl = null;
        }
      });
    }
    return t;
  }

  /** Forgets every preparation: the next record of each table prepares it against the target as it is now. */
  forget(): void {
    this.prepared.clear();
    this.latest.clear();
  }

  async close(): Promise<void> {
    await this.ddl?.end().catch(() => undefined); // closing at exit: nothing to report
    this.ddl = null;
  }
}
