// The shape of zeroloss.yaml: one file shared by every service and the CLI. Defaults live
// here and nowhere else; docs/configuration.md describes each key.
import { availableParallelism } from "node:os";
import { z } from "zod";

/** source.snapshot.workers when unset: the machine's cores, at least 2 (one reads while another's rows are sent), at most 8. */
export const DEFAULT_SNAPSHOT_WORKERS = Math.min(8, Math.max(2, availableParallelism()));

const postgresUrl = z
  .string()
  .min(1)
  .refine((v) => /^postgres(ql)?:\/\//.test(v), { message: "must be a postgres:// or postgresql:// URL" });

/** A path to a file holding a secret (a Kubernetes or Docker secret): read at start, never logged. */
const secretFile = z.string().min(1);

/** 0 lets the system pick a free port (tests). */
const port = z.number().int().min(0).max(65535);

/**
 * A service's /metrics, /healthz and API. Loopback unless told otherwise (in a container:
 * host 0.0.0.0); with tokenFile every request but /healthz must carry that bearer token.
 */
const httpSection = (defaultPort: number) =>
  z
    .strictObject({
      port: port.default(defaultPort),
      host: z.string().min(1).default("127.0.0.1"),
      /** A file holding the bearer token (16 characters or more) that requests must carry. */
      tokenFile: secretFile.optional(),
    })
    .default({ port: defaultPort, host: "127.0.0.1" });


/**
 * TLS to the Kafka brokers. Present: every client of every service and the CLI speaks TLS,
 * verifying the brokers' certificates against caFile (default: Node.js's bundled CAs) and
 * their names against the host in kafka.brokers (or serverName).
 */
const kafkaTls = z
  .strictObject({
    /** PEM file of the CA certificates to trust; default: Node.js's bundled public CAs. */
    caFile: z.string().min(1).optional(),
    /** Client certificate and key (PEM) for mutual TLS; both or neither. */
    certFile: z.string().min(1).optional(),
    keyFile: secretFile.optional(),
    /** The name the brokers' certificates carry, when it is not the host in kafka.brokers. */
    serverName: z.string().min(1).optional(),
    /** false: the certificate chain is still verified, its name is not (brokers reached by an address their certificate does not name). */
    verifyServerName: z.boolean().default(true),
  })
  .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), { message: "certFile and keyFile go together (mutual TLS)", path: ["keyFile"] });

export const SASL_MECHANISMS = ["plain", "scram-sha-256", "scram-sha-512", "oauthbearer"] as const;

/** SASL to the Kafka brokers (over TLS: set kafka.tls too, as every managed Kafka requires). */
const kafkaSasl = z
  .strictObject({
    mechanism: z.enum(SASL_MECHANISMS),
    username: z.string().min(1).optional(),
    /** The password; better from passwordFile or ZEROLOSS_KAFKA_SASL_PASSWORD than in the file. */
    password: z.string().min(1).optional(),
    passwordFile: secretFile.optional(),
    /** oauthbearer: a file holding the current token, read again at every authentication (a sidecar or the platform renews it). */
    tokenFile: secretFile.optional(),
  })
  .superRefine((s, ctx) => {
    if (s.mechanism === "oauthbearer") {
      if (s.tokenFile === undefined) ctx.addIssue({ code: "custom", path: ["tokenFile"], message: "is required with mechanism oauthbearer" });
      for (const k of ["username", "password", "passwordFile"] as const) {
        if (s[k] !== undefined) ctx.addIssue({ code: "custom", path: [k], message: "is not used with mechanism oauthbearer (the token is in tokenFile)" });
      }
      return;
    }
    if (s.username === undefined) ctx.addIssue({ code: "custom", path: ["username"], message: `is required with mechanism ${s.mechanism}` });
    if ((s.password === undefined) === (s.passwordFile === undefined)) {
      ctx.addIssue({ code: "custom", path: ["password"], message: `give exactly one of password and passwordFile with mechanism ${s.mechanism}` });
    }
    if (s.tokenFile !== undefined) ctx.addIssue({ code: "custom", path: ["tokenFile"], message: "is only for mechanism oauthbearer" });
  });

/** A PostgreSQL password kept out of the URL (the URL then has none). */
const pgPasswordFile = secretFile.optional();

/** `schema.table` with `*` as a wildcard in either part, e.g. `public.*`, `billing.payments`. */
const tablePattern = z
  .string()
  .regex(/^[^.\s]+\.[^.\s]+$/, { message: "must be schema.table (use * as a wildcard), e.g. public.* or billing.payments" });

const slotName = z
  .string()
  .regex(/^[a-z0-9_]{1,63}$/, { message: "a replication slot name is lower-case letters, digits and _ (at most 63)" });

/**
 * source.slot: the replication slot's name, or `{ name, failover }`. failover (PostgreSQL 17+):
 * the slot is created (or altered) with FAILOVER, so a standby with sync_replication_slots keeps
 * a copy that survives the primary (docs/operations.md, "Failover slots"). The source section's
 * transform turns either form into source.slot (the name) and source.slotFailover.
 */
const slotSection = z
  .union([slotName, z.strictObject({ name: slotName.default("zeroloss"), failover: z.boolean().default(false) })])
  .default("zeroloss");

export const configSchema = z.strictObject({
  source: z.strictObject({
    url: postgresUrl,
    /** The password of source.url's user, from a file (the URL then carries none). */
    passwordFile: pgPasswordFile,
    tables: z.array(tablePattern).min(1).default(["public.*"]),
    exclude: z.array(tablePattern).default([]),
    slot: slotSection,
    publication: z.string().min(1).max(63).default("zeroloss"),
    snapshot: z
      .strictObject({
        /** initial: snapshot, then stream; never: stream only; initial_only: snapshot, then stop. */
        mode: z.enum(["initial", "never", "initial_only"]).default("initial"),
        /** Rows per primary-key chunk; each chunk is one Kafka transaction with its checkpoint. */
        chunkSize: z.number().int().min(1).max(1_000_000).default(10_000),
        /** Seconds between looks for tables that began to match source.tables; each is snapshotted while streaming (0: only at start). */
        newTablesSeconds: z.number().min(0).max(3600).default(10),
        /**
         * Source connections reading key ranges at once, each in the slot's exported snapshot; while
         * streaming, tables snapshotted at once (added tables, zeroloss snapshot --table).
         * Default: the machine's cores, at least 2 (one reads while another's rows are sent), at most 8.
         */
        workers: z.number().int().min(1).max(64).default(DEFAULT_SNAPSHOT_WORKERS),
        /**
         * Snapshot rows travel many to a record (bulk records, JSON or Avro); false: one record per
         * row, for readers of the data topics other than zeroloss's consumer.
         */
        bulk: z.boolean().default(true),
      })
      .default({ mode: "initial", chunkSize: 10_000, newTablesSeconds: 10, workers: DEFAULT_SNAPSHOT_WORKERS, bulk: true }),
    /** Seconds of idle stream after which a heartbeat message moves the slot on (0: off). */
    heartbeatSeconds: z.number().min(0).max(3600).default(10),
  })
    // Every other module reads source.slot as the name, as before the object form existed.
    .transform(({ slot, ...rest }) => ({
      ...rest,
      slot: typeof slot === "string" ? slot : slot.name,
      /** source.slot.failover: create (or alter) the slot with FAILOVER (PostgreSQL 17+). */
      slotFailover: typeof slot === "string" ? false : slot.failover,
    })),
  target: z.strictObject({
    url: postgresUrl,
    passwordFile: pgPasswordFile,
    /** A source column list that differs from the target table: apply (add columns, widen types; stop on anything else) or stop. */
    schemaChanges: z.enum(["apply", "stop"]).default("apply"),
    /**
     * session_replication_role of the consumer's target connections. replica (the default, as
     * PostgreSQL's own apply workers run): foreign keys and ordinary triggers do not fire on
     * applied rows, so batches of different tables and partitions may land in any order;
     * origin: they fire, and a row whose parent is not applied yet stops its partition.
     */
    sessionReplicationRole: z.enum(["replica", "origin"]).default("replica"),
  }),
  kafka: z
    .strictObject({
      brokers: z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, { message: "must be host:port" })).min(1),
      clientId: z.string().min(1).default("zeroloss"),
      topicPrefix: z
        .string()
        .regex(/^[A-Za-z0-9._-]{1,200}$/, { message: "a Kafka topic prefix is letters, digits, '.', '_' and '-'" })
        .default("zeroloss"),
      partitions: z.number().int().min(1).max(10000).default(6),
      replicationFactor: z.number().int().min(1).max(32).default(1),
      /** Defaults to 2 when replicationFactor >= 3, else 1. */
      minInsyncReplicas: z.number().int().min(1).max(32).optional(),
      /** How the producer writes data record values: json (envelope v1) or avro (through kafka.registry). Readers take both. */
      encoding: z.enum(["json", "avro"]).default("json"),
      /** A Confluent-compatible schema registry; needed by encoding avro, and by readers of Avro records. */
      registry: z
        .strictObject({
          url: z.string().regex(/^https?:\/\/\S+$/, { message: "must be an http:// or https:// URL" }),
          /** Basic auth (Confluent Cloud: the API key and secret). */
          username: z.string().min(1).optional(),
          password: z.string().min(1).optional(),
          passwordFile: secretFile.optional(),
          /** https: PEM file of the CAs to trust; default: Node.js's bundled public CAs. */
          caFile: z.string().min(1).optional(),
        })
        .superRefine((r, ctx) => {
          if (r.password !== undefined && r.passwordFile !== undefined) ctx.addIssue({ code: "custom", path: ["password"], message: "give password or passwordFile, not both" });
          if ((r.password !== undefined || r.passwordFile !== undefined) && r.username === undefined) ctx.addIssue({ code: "custom", path: ["username"], message: "is required with a password" });
        })
        .optional(),
      tls: kafkaTls.optional(),
      sasl: kafkaSasl.optional(),
    })
    .superRefine((k, ctx) => {
      if (k.encoding === "avro" && k.registry === undefined) {
        ctx.addIssue({ code: "custom", path: ["registry", "url"], message: "is required when kafka.encoding is avro" });
      }
      if (k.minInsyncReplicas !== undefined && k.minInsyncReplicas > k.replicationFactor) {
        ctx.addIssue({
          code: "custom",
          path: ["minInsyncReplicas"],
          message: `must not exceed replicationFactor (${k.replicationFactor}): no write could ever be acknowledged`,
        });
      }
    })
    .transform((k) => ({ ...k, minInsyncReplicas: k.minInsyncReplicas ?? (k.replicationFactor >= 3 ? 2 : 1) })),
  producer: z
    .strictObject({
      http: httpSection(9401),
      /** A Kafka transaction is committed once it holds this many records (at a source transaction boundary). */
      batchRecords: z.number().int().min(1).max(1_000_000).default(5_000),
      /** ...or when this long has passed since its first record. */
      lingerMs: z.number().int().min(0).max(60_000).default(100),
      /** Kafka transaction timeout; a source transaction must reach Kafka within it. Broker cap: transaction.max.timeout.ms. */
      transactionTimeoutMs: z.number().int().min(1_000).max(3_600_000).default(900_000),
      /** /healthz turns unhealthy when nothing was made durable for this long while changes wait. */
      stallSeconds: z.number().int().min(1).default(120),
    })
    .default({ http: { port: 9401, host: "127.0.0.1" }, batchRecords: 5_000, lingerMs: 100, transactionTimeoutMs: 900_000, stallSeconds: 120 }),
  /** Offset windows shared by the producer's and consumer's tallies and the counter's ledger. */
  tallies: z
    .strictObject({ windowSize: z.number().int().min(1).max(100_000_000).default(10_000) })
    .default({ windowSize: 10_000 }),
  consumer: z
    .strictObject({
      /** The Kafka consumer group; every consumer process of one pipeline uses the same. */
      group: z.string().min(1).default("zeroloss"),
      http: httpSection(9402),
      /** Bytes fetched per partition at most. */
      maxBatchBytes: z.number().int().min(64 * 1024).max(256 * 1024 * 1024).default(8 * 1024 * 1024),
      /** Partition batches one process holds at once; those that can share a target transaction do. */
      partitionsConcurrently: z.number().int().min(1).max(64).default(6),
      /** Target transactions one process runs at once, each on its own connection. */
      targetTransactions: z.number().int().min(1).max(64).default(2),
      /** Backoff for retriable failures (target or Kafka away, serialization failure, deadlock). */
      retryInitialMs: z.number().int().min(1).max(60_000).default(200),
      retryMaxMs: z.number().int().min(1).max(600_000).default(30_000),
      /** Kafka group session timeout: a consumer silent this long loses its partitions. */
      sessionTimeoutMs: z.number().int().min(6_000).max(1_800_000).default(30_000),
      /** How often the data topics are listed, to start on topics created after the consumer. */
      topicPollMs: z.number().int().min(100).max(600_000).default(5_000),
    })
    .default({
      group: "zeroloss",
      http: { port: 9402, host: "127.0.0.1" },
      maxBatchBytes: 8 * 1024 * 1024,
      partitionsConcurrently: 6,
      targetTransactions: 2,
      retryInitialMs: 200,
      retryMaxMs: 30_000,
      sessionTimeoutMs: 30_000,
      topicPollMs: 5_000,
    }),
  counter: z
    .strictObject({
      /** The ledger database (schema zeroloss_counter); defaults to target.url. */
      url: postgresUrl.optional(),
      /** Only with counter.url (else target.passwordFile applies). */
      passwordFile: pgPasswordFile,
      http: httpSection(9400),
      /** The counter's own Kafka consumer group (its positions live in the ledger; this only assigns partitions). */
      group: z.string().min(1).default("zeroloss-counter"),
      /**
       * Only for manifests of producers before 2026-12 (without bounds): such a transaction still
       * missing records after this long is incomplete. Windows and current transactions are a
       * mismatch or incomplete only when proven, never by age.
       */
      graceSeconds: z.number().min(1).max(86_400).default(300),
      /** Applied transactions are kept this long in the ledger, then pruned. */
      retainTransactionsSeconds: z.number().int().min(60).max(31_536_000).default(86_400),
      /** How often metrics and transaction states are refreshed from the ledger. */
      refreshMs: z.number().int().min(100).max(600_000).default(2_000),
      /** A refresh running longer than this is logged and shown on /healthz, naming its step: no transaction is marked applied meanwhile. */
      slowRefreshSeconds: z.number().int().min(1).max(86_400).default(60),
      /** Fetched batches are gathered this long into one ledger transaction: fewer, larger writes; the counts lag by as much. */
      lingerMs: z.number().int().min(0).max(60_000).default(0),
      /** How often the data topics are listed, to count topics created after the counter. */
      topicPollMs: z.number().int().min(100).max(600_000).default(5_000),
      /** Kafka group session timeout: a counter silent this long loses its partitions (a restarted one waits this long for its old self). */
      sessionTimeoutMs: z.number().int().min(6_000).max(1_800_000).default(30_000),
      /**
       * How often the replication slot is compared with the producer's last checkpoint (a slot
       * ahead of it is a proven gap); 0: never (a counter that cannot reach the source).
       */
      slotCheckSeconds: z.number().int().min(0).max(86_400).default(30),
    })
    .default({
      http: { port: 9400, host: "127.0.0.1" },
      group: "zeroloss-counter",
      graceSeconds: 300,
      retainTransactionsSeconds: 86_400,
      refreshMs: 2_000,
      slowRefreshSeconds: 60,
      lingerMs: 0,
      topicPollMs: 5_000,
      sessionTimeoutMs: 30_000,
      slotCheckSeconds: 30,
    }),
  verify: z
    .strictObject({
      /** Tables to compare (schema.table patterns); default: the source's tables and exclude. */
      tables: z.array(tablePattern).min(1).optional(),
      /** A differing key range is split until it holds at most this many rows, then compared row by row. */
      leafRows: z.number().int().min(1).max(1_000_000).default(1_000),
      /** Sub-ranges a differing range is split into at each step of the bisection. */
      fanout: z.number().int().min(2).max(1_000).default(16),
      /** Rows per key range of the first pass (progress, and where bisection starts). */
      chunkRows: z.number().int().min(1).max(100_000_000).default(100_000),
      /** A difference still present after this long of waiting for the target to catch up is drift. */
      settleSeconds: z.number().min(0).max(86_400).default(120),
      /** The target counts as caught up once its applied positions stood still this long (and the slot passed the read). */
      quietMs: z.number().int().min(0).max(600_000).default(3_000),
      /** Rows reported per table at most (all are counted). */
      maxReportedRows: z.number().int().min(1).max(1_000_000).default(100),
      /** `zeroloss verify --continuous`: seconds between passes. */
      intervalSeconds: z.number().min(1).max(604_800).default(300),
      http: httpSection(9403),
    })
    .default({
      leafRows: 1_000,
      fanout: 16,
      chunkRows: 100_000,
      settleSeconds: 120,
      quietMs: 3_000,
      maxReportedRows: 100,
      intervalSeconds: 300,
      http: { port: 9403, host: "127.0.0.1" },
    }),
  /** `zeroloss sequences sync` (docs/operations.md, "Sequences"). */
  sequences: z
    .strictObject({
      /**
       * Added to each source sequence's next value when the target's is set: room for the values
       * the source hands out until the application moves (0 at cutover, with writes fenced).
       */
      margin: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
    })
    .default({ margin: 0 }),
  log: z
    .strictObject({ level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info") })
    .default({ level: "info" }),
});

/** What the file may say (defaults not yet applied). */
export type ConfigInput = z.input<typeof configSchema>;

/** The validated configuration, defaults applied, `counter.url` resolved, `…File` secrets read into their values (passwords into the URLs). */
export type Config = Omit<z.output<typeof configSchema>, "counter"> & {
  counter: Omit<z.output<typeof configSchema>["counter"], "url"> & { url: string };
};
