// Reads what a certificate states: both sides' identities and every chosen table's digest on
// each side. Each side is read in one REPEATABLE READ READ ONLY transaction, so all of its
// tables are hashed as of one snapshot (the cutover stops writes first, so the two snapshots
// show the same moment of the data). The source is read and its connection closed before the
// target is, as `sequences sync` does: no session stays open on a side it is not reading.
import { connect, describeTable, inTransaction, qualifiedName, resolveTables, type Client } from "@zeroloss/pg";
import { hashTable, tableExists, type HashedTable } from "./table-hash.js";
import { readIdentity } from "./identity.js";
import { CERTIFICATE_VERSION, type DatabaseIdentity, type TableDigest, type TableEntry, type UnsignedCertificate } from "./types.js";

export interface GatherOptions {
  readonly sourceUrl: string;
  readonly targetUrl: string;
  /** source.tables and source.exclude (or --tables in their place). */
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly zerolossVersion: string;
  readonly configFingerprint: string;
  /** Called after each table is hashed on a side: progress for a person. */
  readonly onTable?: (side: "source" | "target", table: string, digest: TableDigest | null) => void;
  readonly now?: () => Date;
}

const SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connect(url, { applicationName: "zeroloss-certificate" });
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Each table's digest on the target; null for a table the target lacks. */
export async function hashTargetTables(
  targetUrl: string,
  tables: readonly HashedTable[],
  onTable?: GatherOptions["onTable"],
): Promise<{ identity: DatabaseIdentity; digests: (TableDigest | null)[] }> {
  return withClient(targetUrl, async (client) => {
    const identity = await readIdentity(client, targetUrl, "target");
    const digests = await inTransaction(
      client,
      "the target's certificate snapshot",
      async () => {
        const out: (TableDigest | null)[] = [];
        for (const t of tables) {
          const digest = (await tableExists(client, t)) ? await hashTable(client, t, "target") : null;
          onTable?.("target", qualifiedName(t), digest);
          out.push(digest);
        }
        return out;
      },
      { begin: SNAPSHOT },
    );
    return { identity, digests };
  });
}

/** The unsigned certificate: sign it with signCertificate(). */
export async function gatherCertificate(options: GatherOptions): Promise<UnsignedCertificate> {
  const issuedAt = (options.now?.() ?? new Date()).toISOString();
  const source = await withClient(options.sourceUrl, async (client) => {
    const identity = await readIdentity(client, options.sourceUrl, "source");
    const tables = await inTransaction(
      client,
      "the source's certificate snapshot",
      async () => {
        const out: { table: HashedTable; digest: TableDigest }[] = [];
        for (const name of await resolveTables(client, options.include, options.exclude)) {
          const info = await describeTable(client, name);
          const table: HashedTable = { schema: info.schema, name: info.name, columns: info.columns.map((c) => c.name), key: info.keyColumns };
          const digest = await hashTable(client, table, "source");
          options.onTable?.("source", qualifiedName(table), digest);
          out.push({ table, digest });
        }
        return out;
      },
      { begin: SNAPSHOT },
    );
    return { identity, tables };
  });
  const target = await hashTargetTables(
    options.targetUrl,
    source.tables.map((t) => t.table),
    options.onTable,
  );
  const entries: TableEntry[] = source.tables.map(({ table, digest }, i) => {
    const theirs = target.digests[i] ?? null;
    return {
      table: qualifiedName(table),
      columns: table.columns,
      key: table.key,
      source: digest,
      target: theirs,
      equal: theirs !== null && theirs.rows === digest.rows && theirs.hash === digest.hash,
    };
  });
  return {
    version: CERTIFICATE_VERSION,
    issuedAt,
    zerolossVersion: options.zerolossVersion,
    configFingerprint: options.configFingerprint,
    source: source.identity,
    target: target.identity,
    tables: entries,
    proven: entries.every((e) => e.equal),
  };
}

/** A certified table whose target no longer hashes to what was certified. */
export interface RecheckDifference {
  readonly table: string;
  readonly certified: TableDigest | null;
  readonly now: TableDigest | null;
}

/** Hashes the target's tables again and lists those that differ from the certificate's target digests. */
export async function recheckTarget(targetUrl: string, tables: readonly TableEntry[], onTable?: GatherOptions["onTable"]): Promise<RecheckDifference[]> {
  const hashed: HashedTable[] = tables.map((t) => {
    const dot = t.table.indexOf(".");
    return { schema: t.table.slice(0, dot), name: t.table.slice(dot + 1), columns: t.columns, key: t.key };
  });
  const { digests } = await hashTargetTables(targetUrl, hashed, onTable);
  const differences: RecheckDifference[] = [];
  tables.forEach((t, i) => {
    const now = digests[i] ?? null;
    const same = now === null ? t.target === null : t.target !== null && now.rows === t.target.rows && now.hash === t.target.hash;
    if (!same) differences.push({ table: t.table, certified: t.target, now });
  });
  return differences;
}
