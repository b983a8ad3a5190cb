// Every error code zeroloss reports, declared once: what it means to an operator (what
// happened, what to do) and whether retrying can help. ZerolossError takes its `retriable`
// from here, so a code cannot be retriable at one call site and not at another; the code
// type is this object's keys, so a misspelt code does not compile. docs/errors.md lists the
// same table (a unit test keeps the two equal, and another that every code is raised).
//
// Codes also name records the consumer quarantines (CHECKSUM_MISMATCH, WIRE_*): those are
// never retried, as the record's bytes will not change.

export type ErrorArea = "config" | "general" | "postgres" | "producer" | "kafka" | "registry" | "wire" | "consumer" | "cli" | "demo" | "devstack";

export interface ErrorCodeInfo {
  /** Where it comes from; docs/errors.md has one section per area. */
  readonly area: ErrorArea;
  /** Retrying the same operation later may succeed (a connection refused, a broker election). */
  readonly retriable: boolean;
  /** One sentence for an operator: what happened and what to do. */
  readonly meaning: string;
}

export const ERROR_CODES = {
  CONFIG_INVALID: {
    area: "config",
    retriable: false,
    meaning: "The configuration (`zeroloss.yaml`, `ZEROLOSS_*` variables, or a file it names: a password, a token, a certificate) is invalid; the message lists every problem with its key: fix them and start again.",
  },
  CONFIG_NOT_FOUND: { area: "config", retriable: false, meaning: "The configuration file given with `--config` cannot be read (missing or not readable): check the path and its permissions." },
  CONFIG_FAILPOINTS: {
    area: "config",
    retriable: false,
    meaning: "`ZEROLOSS_FAILPOINTS` names an unknown failpoint, another service's, or a malformed action (`docs/failpoints.md`): correct or unset it.",
  },

  TIMEOUT: {
    area: "general",
    retriable: true,
    meaning: "A wait had a deadline and it passed (a topic without a leader, a service not ready, a probe that hung); the message names what was awaited, and the caller tries again or reports it.",
  },
  UNEXPECTED: {
    area: "general",
    retriable: false,
    meaning: "A failure zeroloss has no code for, most likely a bug: the log line holds the whole cause chain; report it with that line.",
  },
  INTERNAL: {
    area: "general",
    retriable: false,
    meaning: "The producer was about to break one of its invariants (move its durable position back, or acknowledge the slot past the checkpoint in Kafka) and stopped instead; a bug: report it with the log.",
  },
  FAILPOINT_ERROR: {
    area: "general",
    retriable: true,
    meaning: "A failpoint armed with `ZEROLOSS_FAILPOINTS` fired its error action (fault injection, `docs/failpoints.md`); the service retries as after any passing failure.",
  },

  PG_UNREACHABLE: {
    area: "postgres",
    retriable: true,
    meaning: "PostgreSQL could not be reached or dropped the connection (refused, reset, timed out, name not resolved, server starting up or shutting down, no connection slot free); retried with backoff: check the server and the network if it lasts.",
  },
  PG_AUTH_FAILED: {
    area: "postgres",
    retriable: false,
    meaning: "PostgreSQL refused the connection's credentials (wrong user or password, or a `pg_hba.conf` rule that rejects it): fix the URL or the server's configuration.",
  },
  PG_TLS_FAILED: {
    area: "postgres",
    retriable: false,
    meaning: "The TLS handshake with PostgreSQL failed (certificate not trusted, wrong host name, expired, or the server offers no TLS); the message names the cause and the fix in the URL's `sslmode`, `sslrootcert`, `sslcert`, `sslkey`.",
  },
  PG_DATABASE_MISSING: { area: "postgres", retriable: false, meaning: "The database the URL names does not exist on the server: create it or correct the URL." },
  PG_PRIVILEGE_MISSING: {
    area: "postgres",
    retriable: false,
    meaning: "The service's role lacks privileges it needs; the message lists each with the `GRANT` that gives it (`docs/operations.md`, \"Roles and grants\").",
  },
  PG_QUERY_FAILED: {
    area: "postgres",
    retriable: false,
    meaning: "PostgreSQL rejected a statement (a constraint, a type, a missing object: the SQLSTATE is in the message), and running it again gives the same answer, so the service or the consumer's partition stops: fix the cause, then restart.",
  },
  PG_CONFLICT: {
    area: "postgres",
    retriable: true,
    meaning: "PostgreSQL cancelled a transaction as a serialization failure or a deadlock with another session (SQLSTATE 40001, 40P01); it is run again.",
  },
  PG_FAILED: {
    area: "postgres",
    retriable: false,
    meaning: "A PostgreSQL call failed without a SQLSTATE, or returned no row where one was certain; the message says which call: check the server's log.",
  },
  SCHEMA_NEWER_THAN_CODE: {
    area: "postgres",
    retriable: false,
    meaning: "A zeroloss schema (`zeroloss` in the target, `zeroloss_counter` in the ledger) has migration steps this release does not know: a newer release ran there. Run that release, or restore the schema (`docs/operations.md`, \"Upgrades\").",
  },
  SCHEMA_MIGRATION_MISMATCH: {
    area: "postgres",
    retriable: false,
    meaning: "A zeroloss schema's version table names a step differently from this release, or has a gap below its version: the schema was changed by hand or by a build that is no release. Nothing was changed; compare `<schema>.migrations` with the release's steps.",
  },
  MIGRATIONS_INVALID: { area: "postgres", retriable: false, meaning: "A release's own list of schema steps is not numbered 1, 2, 3… in order: a defect in that build; report it." },
  PG_PROTOCOL: { area: "postgres", retriable: false, meaning: "PostgreSQL returned a transaction snapshot zeroloss cannot parse: report it with the server's version." },
  PG_VERSION_UNSUPPORTED: { area: "postgres", retriable: false, meaning: "The source runs a PostgreSQL older than 14, which zeroloss does not support: upgrade it." },
  WAL_LEVEL_NOT_LOGICAL: {
    area: "postgres",
    retriable: false,
    meaning: "The source's `wal_level` is not logical, which logical replication needs: `ALTER SYSTEM SET wal_level = logical`, then restart PostgreSQL.",
  },
  PG_REPLICATION_ENDED: { area: "postgres", retriable: true, meaning: "The server ended the replication stream before it started; the producer starts it again." },
  PGOUTPUT_PROTOCOL: {
    area: "postgres",
    retriable: false,
    meaning: "The replication stream sent a pgoutput message zeroloss cannot place (unparseable, a change outside a transaction, an unknown relation); the producer stops without acknowledging it: report it with the server's version.",
  },

  PUBLICATION_MISMATCH: {
    area: "producer",
    retriable: false,
    meaning: "The publication does not publish exactly the tables `source.tables` chooses; the message lists the missing and the extra ones and how to reconcile them (`ALTER PUBLICATION`, or `--resnapshot`).",
  },
  SLOT_ACTIVE: { area: "producer", retriable: false, meaning: "The replication slot is in use by another process (another producer): stop that one first." },
  SLOT_MISSING: {
    area: "producer",
    retriable: false,
    meaning: "The replication slot does not exist but Kafka holds the pipeline's data, so the changes made since it disappeared cannot be read: re-snapshot with `zeroloss producer --resnapshot` (`docs/operations.md`).",
  },
  SLOT_INVALIDATED: {
    area: "producer",
    retriable: false,
    meaning: "The source removed WAL the replication slot still needed (`wal_status` lost), so changes are missing: re-snapshot with `zeroloss producer --resnapshot` (`docs/operations.md`).",
  },
  SLOT_AHEAD_OF_CHECKPOINT: {
    area: "producer",
    retriable: false,
    meaning: "The replication slot was acknowledged past the producer's checkpoint in Kafka, so the changes in between were never read: re-snapshot, or accept the loss with `--accept-slot-gap` (`docs/operations.md`, \"Slot ahead of the checkpoint\").",
  },
  SLOT_FAILOVER_UNSUPPORTED: {
    area: "producer",
    retriable: false,
    meaning: "`source.slot.failover` is true but the source runs PostgreSQL older than 17, which has no failover slots; the producer stopped before creating anything: set it to false or upgrade the source (`docs/operations.md`, \"Failover slots\").",
  },
  CHECKPOINT_AHEAD_OF_SOURCE: {
    area: "producer",
    retriable: false,
    meaning: "The producer's checkpoint in Kafka is past the source's current WAL position: the source is not the server the changes in Kafka came from as it stood (typically a standby promoted before it received them, a failover without `synchronized_standby_slots`), and its next commits would be skipped; the producer does not start. Check `source.url`; to start over from this server, `zeroloss producer --resnapshot` (`docs/operations.md`, \"Failover slots\").",
  },
  NO_TABLES: { area: "producer", retriable: false, meaning: "No table of the source matches `source.tables` (minus `source.exclude`): correct the patterns." },
  TABLE_NOT_FOUND: { area: "producer", retriable: false, meaning: "A table the producer looks up does not exist in the source: create it or correct `source.tables`." },
  TABLE_WITHOUT_KEY: {
    area: "producer",
    retriable: false,
    meaning: "A table has no primary key and no `REPLICA IDENTITY USING INDEX`, so its rows cannot be matched in the target: give it one (the message gives the ALTER TABLE).",
  },
  KEY_VALUE_MISSING: {
    area: "producer",
    retriable: false,
    meaning: "A change arrived without a value for a key column, so its row cannot be identified: check the table's replica identity.",
  },
  KEY_CHANGED: {
    area: "producer",
    retriable: false,
    meaning: "A table's key changed (or the table was dropped) while its live snapshot paged through it by that key; the producer keeps the change rather than guess, and logs a warning.",
  },
  TUPLE_SHAPE: {
    area: "producer",
    retriable: false,
    meaning: "A change carried a different number of values than its table has columns (a schema change the stream did not announce): report it with the table's recent DDL.",
  },
  TOAST_VALUE_UNAVAILABLE: {
    area: "producer",
    retriable: false,
    meaning: "An update changed a row's key and left a large (TOAST) value unchanged, which PostgreSQL does not send, so the moved row cannot be rebuilt: `ALTER TABLE … REPLICA IDENTITY FULL`, then re-snapshot with `--resnapshot`.",
  },
  SNAPSHOT_TABLE_UNKNOWN: {
    area: "producer",
    retriable: false,
    meaning: "A snapshot was asked for, or resumed with, a table outside `source.tables` or outside the snapshot in progress: finish that snapshot, or start over with `--resnapshot`.",
  },
  SNAPSHOT_READ_FAILED: { area: "producer", retriable: true, meaning: "Reading a chunk of a table's snapshot failed (a lost connection, a cancelled statement); the chunk is read again." },
  CHECKPOINT_INVALID: {
    area: "producer",
    retriable: false,
    meaning: "The producer's checkpoint in Kafka says a snapshot is in progress but carries no snapshot progress (written by something else, or damaged): re-snapshot with `--resnapshot`.",
  },
  STREAM_STOPPED: {
    area: "producer",
    retriable: true,
    meaning: "The replication stream stopped (asked to, or after a failure) while work still waited on it; the producer starts again from its durable position.",
  },
  STREAM_FAILED: {
    area: "producer",
    retriable: false,
    meaning: "The replication stream failed with an error that has no code of its own, most likely a bug; the producer stops: report it with the log line.",
  },
  PRODUCER_FAILED: {
    area: "producer",
    retriable: false,
    meaning: "The producer failed with an error that has no code of its own, most likely a bug; it stops: report it with the log line and its cause chain.",
  },
  KAFKA_WRITER_CLOSED: {
    area: "producer",
    retriable: true,
    meaning: "A record reached the Kafka writer after its transaction was aborted (the stream stopping); nothing was acknowledged, and the producer starts again from its durable position.",
  },
  TOPIC_UNKNOWN: { area: "producer", retriable: false, meaning: "The producer was about to write to a topic it had neither created nor looked up, a bug: report it." },

  KAFKA_TLS_FAILED: {
    area: "kafka",
    retriable: false,
    meaning: "The TLS handshake with a Kafka broker failed (certificate not trusted, wrong host name, expired, no client certificate); the message names the cause and the fix in `kafka.tls`.",
  },
  KAFKA_SASL_AUTHENTICATION_FAILED: { area: "kafka", retriable: false, meaning: "The broker refused the SASL credentials: fix `kafka.sasl` (username, password or `passwordFile`, mechanism)." },
  KAFKA_SASL_AUTHENTICATION_ERROR: {
    area: "kafka",
    retriable: false,
    meaning: "kafkajs could not authenticate with SASL (credentials refused, or an exchange the broker ended): check `kafka.sasl` and the broker's listener.",
  },
  KAFKA_UNSUPPORTED_SASL_MECHANISM: { area: "kafka", retriable: false, meaning: "The broker does not offer the SASL mechanism `kafka.sasl.mechanism` names: choose one its listener enables." },
  KAFKA_TOPIC_AUTHORIZATION_FAILED: { area: "kafka", retriable: false, meaning: "An ACL denies the service's principal an operation on a topic: grant it." },
  KAFKA_GROUP_AUTHORIZATION_FAILED: { area: "kafka", retriable: false, meaning: "An ACL denies the service's principal its consumer group: grant it." },
  KAFKA_CLUSTER_AUTHORIZATION_FAILED: {
    area: "kafka",
    retriable: false,
    meaning: "An ACL denies the service's principal a cluster operation (creating topics, idempotent writes): grant it.",
  },
  KAFKA_TRANSACTIONAL_ID_AUTHORIZATION_FAILED: { area: "kafka", retriable: false, meaning: "An ACL denies the producer's principal its transactional id: grant it." },
  KAFKA_MESSAGE_TOO_LARGE: {
    area: "kafka",
    retriable: false,
    meaning: "A record is larger than the broker or the topic accepts (`message.max.bytes`, `max.message.bytes`): raise the limit.",
  },
  KAFKA_RECORD_LIST_TOO_LARGE: { area: "kafka", retriable: false, meaning: "A batch of records is larger than the broker accepts: raise its `message.max.bytes`." },
  KAFKA_INVALID_TOPIC_EXCEPTION: {
    area: "kafka",
    retriable: false,
    meaning: "The broker rejects a topic name (`kafka.topicPrefix` and the table's names make it): choose a prefix that gives valid names.",
  },
  KAFKA_INVALID_REPLICATION_FACTOR: {
    area: "kafka",
    retriable: false,
    meaning: "The broker cannot create a topic with `kafka.replicationFactor` (more replicas than it has brokers): lower it.",
  },
  KAFKA_INVALID_PARTITIONS: { area: "kafka", retriable: false, meaning: "The broker rejects the partition count of a new topic (`kafka.partitions`): correct it." },
  KAFKA_INVALID_CONFIG: { area: "kafka", retriable: false, meaning: "The broker rejects a topic setting zeroloss asks for; the message names it." },
  KAFKA_POLICY_VIOLATION: {
    area: "kafka",
    retriable: false,
    meaning: "A broker policy forbids creating a topic as zeroloss asks: create the topics by hand, or change the policy.",
  },
  KAFKA_UNSUPPORTED_VERSION: {
    area: "kafka",
    retriable: false,
    meaning: "The broker does not support a request zeroloss needs (transactions, a protocol version): upgrade the brokers.",
  },
  KAFKA_INVALID_TRANSACTION_TIMEOUT: {
    area: "kafka",
    retriable: false,
    meaning: "The producer's transaction timeout exceeds the broker's `transaction.max.timeout.ms`: raise that limit on the brokers.",
  },
  KAFKA_CONNECTION_ERROR: {
    area: "kafka",
    retriable: true,
    meaning: "A broker could not be reached or dropped the connection; retried with backoff: check the brokers and `kafka.brokers` if it lasts.",
  },
  KAFKA_REQUEST_TIMEOUT_ERROR: { area: "kafka", retriable: true, meaning: "A broker did not answer a request in time; retried." },
  KAFKA_NUMBER_OF_RETRIES_EXCEEDED: {
    area: "kafka",
    retriable: true,
    meaning: "kafkajs gave up a request after its own retries (a broker away or slow); the service backs off and tries again.",
  },
  KAFKA_REQUEST_TIMED_OUT: { area: "kafka", retriable: true, meaning: "A broker reported a request timed out (waiting for its replicas, say); retried." },
  KAFKA_LEADER_NOT_AVAILABLE: { area: "kafka", retriable: true, meaning: "A partition has no leader for the moment (an election, a broker restarting); retried." },
  KAFKA_NOT_LEADER_FOR_PARTITION: { area: "kafka", retriable: true, meaning: "A request reached a broker that no longer leads the partition (leadership moved); retried." },
  KAFKA_NOT_ENOUGH_REPLICAS: {
    area: "kafka",
    retriable: true,
    meaning: "Fewer in-sync replicas than `min.insync.replicas` are up, so the broker refuses writes; retried until the brokers are back.",
  },
  KAFKA_NOT_ENOUGH_REPLICAS_AFTER_APPEND: { area: "kafka", retriable: true, meaning: "A write reached the leader but too few replicas confirmed it; the transaction is dropped and retried." },
  KAFKA_UNKNOWN_TOPIC_OR_PARTITION: {
    area: "kafka",
    retriable: true,
    meaning: "A broker does not know a topic or partition yet (just created, metadata not yet spread); retried: if it lasts, check that the topic exists.",
  },
  KAFKA_GROUP_COORDINATOR_NOT_AVAILABLE: {
    area: "kafka",
    retriable: true,
    meaning: "The group or transaction coordinator is not available (a broker restarting, an internal topic not ready); retried.",
  },
  KAFKA_NOT_COORDINATOR_FOR_GROUP: { area: "kafka", retriable: true, meaning: "The group or transaction coordinator moved to another broker; retried there." },
  KAFKA_REBALANCE_IN_PROGRESS: { area: "kafka", retriable: true, meaning: "The consumer group is rebalancing; the member joins again and goes on." },
  KAFKA_CONCURRENT_TRANSACTIONS: { area: "kafka", retriable: true, meaning: "The broker is still completing the transactional id's previous transaction; retried." },
  KAFKA_TOPIC_NOT_READY: {
    area: "kafka",
    retriable: true,
    meaning: "A topic still had a partition without a leader or with too few in-sync replicas after 60 s; retried: check the brokers.",
  },
  KAFKA_PARTITION_MISSING: { area: "kafka", retriable: true, meaning: "Kafka did not list a partition the counter reads (metadata not yet current); retried." },
  KAFKA_FAILED: {
    area: "kafka",
    retriable: true,
    meaning: "Kafka failed in a way that has no code of its own (kafkajs's error type is in the message and in `details.kafkaError`); the service backs off and tries again.",
  },

  REGISTRY_UNREACHABLE: {
    area: "registry",
    retriable: true,
    meaning: "The schema registry (`kafka.registry.url`) could not be reached or failed (network, HTTP 5xx, 408, 429); retried with backoff.",
  },
  REGISTRY_TLS_FAILED: {
    area: "registry",
    retriable: false,
    meaning: "The TLS handshake with the schema registry failed; the message names the cause and the fix (`kafka.registry.caFile`).",
  },
  REGISTRY_REFUSED: {
    area: "registry",
    retriable: false,
    meaning: "The schema registry refused a request with an HTTP 4xx (credentials, an unknown subject or id); the message gives its answer.",
  },
  REGISTRY_FAILED: {
    area: "registry",
    retriable: false,
    meaning: "A call to the schema registry failed without being an outage or an answer (a response that makes no sense); the message gives it.",
  },
  SCHEMA_INCOMPATIBLE: {
    area: "registry",
    retriable: false,
    meaning: "The schema registry refused a table's new schema as not BACKWARD compatible with its subject's versions (a narrowed column, say); `docs/consumer.md` says how to let it through.",
  },
  AVRO_SCHEMA_UNKNOWN: {
    area: "registry",
    retriable: false,
    meaning: "A writer schema is not a zeroloss envelope schema (or not JSON), so records written with it cannot be read; they are quarantined as `WIRE_AVRO_SCHEMA`.",
  },
  AVRO_SCHEMA_NOT_LOADED: { area: "registry", retriable: false, meaning: "A record was decoded before its schema was fetched, a bug: report it." },
  AVRO_VALUE_NOT_CANONICAL: {
    area: "registry",
    retriable: false,
    meaning: "A column's value is not the canonical text of its type, so it would not come back identical through its Avro type, and the producer stops rather than change it: report it with the table and column.",
  },
  AVRO_VALUE_TYPE: {
    area: "registry",
    retriable: false,
    meaning: "An Avro value has another type than its schema field says (a record zeroloss did not write); the record is quarantined.",
  },

  WIRE_EMPTY: { area: "wire", retriable: false, meaning: "A record has no value (a tombstone) where an envelope or a control record belongs; a data record is quarantined." },
  WIRE_NOT_JSON: { area: "wire", retriable: false, meaning: "A record's value is not JSON (not UTF-8 text, cut short, or written by something else); a data record is quarantined." },
  WIRE_VERSION: {
    area: "wire",
    retriable: false,
    meaning: "A record's format version is not one this build reads (a newer producer, or a foreign writer); a data record is quarantined: upgrade the readers.",
  },
  WIRE_MALFORMED: {
    area: "wire",
    retriable: false,
    meaning: "A record lacks a required field or has one of the wrong type (the message names it), or does not decode with its Avro schema; a data record is quarantined.",
  },
  WIRE_NOT_AVRO: {
    area: "wire",
    retriable: false,
    meaning: "A record is not in the schema registry's framing (magic byte 0, schema id) where Avro is expected; it is quarantined.",
  },
  WIRE_AVRO_SCHEMA: {
    area: "wire",
    retriable: false,
    meaning: "A record's Avro writer schema cannot be used (unknown to the registry, or not a zeroloss envelope schema); it is quarantined.",
  },
  WIRE_AVRO_WITHOUT_REGISTRY: {
    area: "wire",
    retriable: false,
    meaning: "A record is Avro but no schema registry is configured, so the consumer's partition stops: set `kafka.registry.url`, then restart the consumer.",
  },
  WIRE_KEY_MISMATCH: {
    area: "wire",
    retriable: false,
    meaning: "A record's Kafka key, partition, or a bulk row's key field is not the one its own key columns give (the LSN guard and the tombstones go by that key); it is quarantined.",
  },
  WIRE_WRONG_TOPIC: { area: "wire", retriable: false, meaning: "A record of a table arrived in another table's topic; it is quarantined." },

  TARGET_COLUMN_MISSING: {
    area: "consumer",
    retriable: false,
    meaning: "The target table lacks a column the source has, and the consumer does not add it (`target.schemaChanges: stop`): add it, then restart the consumer.",
  },
  TARGET_COLUMN_TYPE: {
    area: "consumer",
    retriable: false,
    meaning: "A target column's type differs from the source's in a way the consumer does not change by itself (it only widens), or `_zeroloss_lsn` is not `pg_lsn`: change the target by hand, then restart the consumer.",
  },
  TARGET_COLUMN_REPLACED: {
    area: "consumer",
    retriable: false,
    meaning: "A source column was dropped and added again under its name, and the target's column still holds the old values: rename or drop it in the target, then restart the consumer.",
  },
  TARGET_COLUMN_RESERVED: {
    area: "consumer",
    retriable: false,
    meaning: "A source column uses a name zeroloss reserves in the target (`_zeroloss_lsn`, `zl$*`): rename it at the source.",
  },
  TARGET_KEY_MISMATCH: { area: "consumer", retriable: false, meaning: "The target table's primary key differs from the source's: make them the same, then restart the consumer." },
  TARGET_NO_KEY: { area: "consumer", retriable: false, meaning: "A table's records name no key column, so its rows cannot be matched in the target: give the source table a key." },
  TARGET_TYPE_UNKNOWN: {
    area: "consumer",
    retriable: false,
    meaning: "A source column's type does not exist in the target database, or resolves to another type there: create the types, extensions or domains in the target first.",
  },
  CHECKSUM_MISMATCH: {
    area: "consumer",
    retriable: false,
    meaning: "A row's values as the target stores them do not give the checksum the producer computed (a value the target cannot hold as sent, or changed in transit); the record is quarantined with the differing columns.",
  },
  TOAST_BASE_MISSING: {
    area: "consumer",
    retriable: false,
    meaning: "An update left a large (TOAST) value unchanged but the target holds no row to keep it from; the record is quarantined rather than written with NULL.",
  },
  TOAST_SOURCE_QUARANTINED: {
    area: "consumer",
    retriable: false,
    meaning: "A record's unchanged TOAST values would come from a record of its batch that was quarantined; it is quarantined too.",
  },
  BULK_ROWS_UNREADABLE: {
    area: "consumer",
    retriable: false,
    meaning: "The target could not load a bulk snapshot record's rows (the target's error names the line and column), or loaded another count than `rows.count`; the record is quarantined whole.",
  },

  COUNTER_UNREACHABLE: {
    area: "cli",
    retriable: true,
    meaning: "`zeroloss status` could not read the counter's `/api/summary` (not running, wrong address, token refused); it exits 2: check the counter and `counter.http`.",
  },
  REPLAY_UNKNOWN_TOPIC: { area: "cli", retriable: false, meaning: "`zeroloss replay` was given a topic that is not a data topic of `kafka.topicPrefix`: the message lists them." },
  REPLAY_UNKNOWN_PARTITION: { area: "cli", retriable: false, meaning: "`zeroloss replay` was given a partition the topic does not have." },
  REPLAY_OFFSET_OUT_OF_RANGE: { area: "cli", retriable: false, meaning: "`zeroloss replay` was given an offset outside what the partition holds: the message gives the range." },
  REPLAY_GROUP_ACTIVE: {
    area: "cli",
    retriable: false,
    meaning: "`zeroloss replay` found the consumer group with active members: stop every consumer of the group, then replay.",
  },
  PRODUCER_NOT_BUILT: { area: "cli", retriable: false, meaning: "The producer is not built (`services/producer/dist/main.js` is missing): run `npm run build` in the repository." },
  CONSUMER_NOT_BUILT: { area: "cli", retriable: false, meaning: "The consumer is not built (`services/consumer/dist/main.js` is missing): run `npm run build` in the repository." },
  COUNTER_NOT_BUILT: { area: "cli", retriable: false, meaning: "The counter is not built (`services/counter/dist/main.js` is missing): run `npm run build` in the repository." },
  VERIFIER_NOT_BUILT: { area: "cli", retriable: false, meaning: "The verifier is not built (`services/verifier/dist/main.js` is missing): run `npm run build` in the repository." },
  PRODUCER_START_FAILED: { area: "cli", retriable: false, meaning: "The CLI could not start the producer's process; the message gives the system's error." },
  CONSUMER_START_FAILED: { area: "cli", retriable: false, meaning: "The CLI could not start the consumer's process; the message gives the system's error." },
  COUNTER_START_FAILED: { area: "cli", retriable: false, meaning: "The CLI could not start the counter's process; the message gives the system's error." },
  VERIFIER_START_FAILED: { area: "cli", retriable: false, meaning: "The CLI could not start the verifier's process; the message gives the system's error." },
  SEQUENCE_MISSING_ON_TARGET: {
    area: "cli",
    retriable: false,
    meaning: "`zeroloss sequences sync` found sequences of the source (of the replicated tables, or standalone ones `source.tables` matches) that the target has no sequence of the same name for, and set none: create them on the target, then run it again (`docs/operations.md`, \"Sequences\").",
  },
  SEQUENCE_OUT_OF_RANGE: {
    area: "cli",
    retriable: false,
    meaning: "`zeroloss sequences sync` would set a target sequence beyond its MINVALUE or MAXVALUE (the source's next value plus the margin), and set none: widen the target's sequence (`ALTER SEQUENCE … AS bigint`) or lower the margin.",
  },
  CERTIFICATE_KEY_INVALID: {
    area: "cli",
    retriable: false,
    meaning: "A key given to `zeroloss certificate` is not a PEM Ed25519 key of the kind needed (the private key to issue, the public key to verify): make a pair with `zeroloss certificate keygen`.",
  },
  CERTIFICATE_KEY_EXISTS: {
    area: "cli",
    retriable: false,
    meaning: "`zeroloss certificate keygen` found `private.pem` or `public.pem` already in the folder and overwrote neither: choose another `--out-dir`, or move the old keys away (certificates signed with them verify only with their public key).",
  },
  CERTIFICATE_UNREADABLE: {
    area: "cli",
    retriable: false,
    meaning: "A file `zeroloss certificate` needs (the certificate, a key) cannot be read, or its output cannot be written: the message names the file and the system's error.",
  },
  FENCE_NO_ROLES: {
    area: "cli",
    retriable: false,
    meaning: "`zeroloss cutover` was asked for the read-only fence without naming a role to fence: name the login roles the application writes to the source as.",
  },
  FENCE_ROLE_UNKNOWN: {
    area: "cli",
    retriable: false,
    meaning: "A role named for the read-only fence of `zeroloss cutover` does not exist on the source; nothing was changed: correct the name (role names are case-sensitive).",
  },
  FENCE_ROLE_SELF: {
    area: "cli",
    retriable: false,
    meaning: "A role named for the read-only fence of `zeroloss cutover` is the role zeroloss connects to the source as, whose sessions must keep writing (the producer's watermarks); nothing was changed: give zeroloss a role of its own and fence only the application's.",
  },
  FENCE_PRIVILEGE: {
    area: "cli",
    retriable: false,
    meaning: "zeroloss's source role may not set or lift the read-only fence: `ALTER ROLE … IN DATABASE … SET` needs CREATEROLE (from PostgreSQL 16 with ADMIN OPTION on the role) or superuser, terminating other roles' sessions needs `pg_signal_backend`; the message says which and whether anything changed.",
  },
  FENCE_WRITES_CONTINUE: {
    area: "cli",
    retriable: true,
    meaning: "`zeroloss cutover` waited for the source's writes to stop and they did not within the time given; the message names the sessions still writing (pid, user, application, address, transaction start) and the tables whose write counters moved: stop them, then run it again.",
  },
  FENCE_WAIT_STOPPED: {
    area: "cli",
    retriable: false,
    meaning: "The wait of `zeroloss cutover` for the source's writes to stop was ended (Ctrl-C, SIGTERM) before they stopped; no fence LSN was taken.",
  },

  CUTOVER_NOT_PROVEN: {
    area: "cli",
    retriable: false,
    meaning: "`zeroloss cutover` found what keeps the cutover from being proven (preflight errors, a quarantined record, a difference the counter or the verifier proved, a sequence it could not set, a foreign key violated, writes past the fence); the message lists every reason. A fence it set stays: fix the cause and run the same command to resume, or `zeroloss cutover --abort` (`docs/cutover.md`).",
  },
  CUTOVER_DRAIN_TIMEOUT: {
    area: "cli",
    retriable: true,
    meaning: "`zeroloss cutover` waited `--drain-timeout` seconds and the changes up to the fence were still not all applied and counted; the message names each stage still behind (the producer's slot, the consumer's or the counter's offsets): check that producer, consumer and counter run, then run the same command to resume.",
  },
  CUTOVER_STATE_INVALID: {
    area: "cli",
    retriable: false,
    meaning: "The cutover's `state.json` in `--dir` cannot be read, is of another version, or lacks a step the next one needs: the message says which. Move it away only once no fence it recorded is still set.",
  },
  CUTOVER_STATE_MISMATCH: {
    area: "cli",
    retriable: false,
    meaning: "`--dir` holds a cutover begun with another configuration, another fence or as a rehearsal: run it with its own options to resume it, `zeroloss cutover --abort --dir DIR` to close it, or use another `--dir`.",
  },
  CUTOVER_LOCKED: {
    area: "cli",
    retriable: false,
    meaning: "Another `zeroloss cutover` (its pid named) is using the same `--dir`: wait for it or stop it first; a lock left by a cutover that was killed is taken over.",
  },
  CUTOVER_VERIFIER_OUTPUT: {
    area: "cli",
    retriable: false,
    meaning: "The verifier run by `zeroloss cutover` printed something that is not its JSON report; its log (`verifier.log` in `--dir`) says why.",
  },
  CUTOVER_VERIFIER_FAILED: {
    area: "cli",
    retriable: false,
    meaning: "The verifier run by `zeroloss cutover` could not compare the databases (a connection, a configuration, a query); the message has the end of its log, all of it is in `verifier.log` in `--dir`.",
  },

  DEMO_EXTERNAL_STACK: {
    area: "demo",
    retriable: false,
    meaning: "`zeroloss demo` found `ZEROLOSS_SOURCE_URL`, `ZEROLOSS_TARGET_URL` or `ZEROLOSS_KAFKA_BROKERS` set; it only fills a stack of its own: unset them.",
  },
  DEMO_INTERRUPTED: { area: "demo", retriable: false, meaning: "The demo was stopped by a signal (Ctrl-C, SIGTERM); it removed what it had started." },
  DEMO_STACK_FAILED: { area: "demo", retriable: false, meaning: "A service of the demo's local stack stopped on its own; the message holds its last log lines." },
  DEMO_WORKLOAD_FAILED: { area: "demo", retriable: false, meaning: "A transaction of the demo's workload failed on the source in a way it does not retry; the message gives it." },
  DEMO_REGISTRY: { area: "demo", retriable: false, meaning: "The demo's schema registry answered a request with an error status while the demo listed its subjects." },
  DEMO_SERVICE_UNREADABLE: { area: "demo", retriable: false, meaning: "A pipeline service of the demo answered `/metrics` or `/api/summary` with an error status." },
  DEMO_VERIFIER_OUTPUT: { area: "demo", retriable: false, meaning: "The verifier the demo ran printed something other than its JSON report; the message names its log file." },

  PREREQUISITE_MISSING: {
    area: "devstack",
    retriable: false,
    meaning: "A tool the local stack needs (PostgreSQL binaries, Java, Maven, Docker) is not installed; the message names it: run `scripts/bootstrap`.",
  },
  SERVICE_START_FAILED: {
    area: "devstack",
    retriable: false,
    meaning: "A process or tool of the local stack (PostgreSQL, Kafka, the registry, initdb, openssl) failed to start or exited before it was ready; the message holds its last output.",
  },
  DOWNLOAD_FAILED: {
    area: "devstack",
    retriable: true,
    meaning: "Kafka's or the registry's jars, or PostgreSQL 16-18's binaries, could not be fetched from Maven Central (first run only); the message holds the errors: check access to Maven Central and run again.",
  },
  DOWNLOAD_CORRUPT: {
    area: "devstack",
    retriable: true,
    meaning: "A download from Maven Central (PostgreSQL 16-18's binaries) does not match the SHA-1 published beside it, or is not the jar expected; the message names its URL. Nothing was kept: run again, and check a proxy or ZEROLOSS_MAVEN_REPOSITORY if it persists.",
  },
  STACK_ALREADY_RUNNING: {
    area: "devstack",
    retriable: false,
    meaning: "A detached local stack is already running: see `zeroloss dev status`, stop it with `zeroloss dev down`.",
  },
  STACK_NOT_RUNNING: {
    area: "devstack",
    retriable: false,
    meaning: "A command for the running local stack (`zeroloss dev kafka …`) found no detached stack, or its Kafka does not answer: start it with `zeroloss dev up --detach`, see `zeroloss dev status`.",
  },
  STACK_CONFIG_INVALID: {
    area: "devstack",
    retriable: false,
    meaning: "The local stack's settings contradict each other (some `ZEROLOSS_*` endpoint variables set and not others, an unknown `ZEROLOSS_DEVSTACK`, `--secure` outside local mode, a PostgreSQL version the stack does not run or cannot choose) or its state file is unreadable: the message says which.",
  },
  TEST_LEAK: {
    area: "devstack",
    retriable: false,
    meaning: "A test left a replication slot or open sessions on its test database (they were removed): close them in the test.",
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}
