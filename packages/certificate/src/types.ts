// The zero-loss certificate, version 1: what a migration proves, as a document an auditor
// keeps. The JSON is the signed document (canonical.ts gives its bytes, signature.ts signs
// them); the HTML page (html.ts) is only a view of it. The section `zeroloss cutover` fills
// (the fence, the counter's ledger, the verifier, sequences, constraints) is optional, so a
// certificate issued without a cutover is still a complete v1 document.

export const CERTIFICATE_VERSION = 1;
export const SIGNATURE_ALGORITHM = "ed25519";

/** Which database a side was: enough for an auditor to tell it from any other. */
export interface DatabaseIdentity {
  /** pg_control_system().system_identifier, as text (a 64-bit number); null when the role may not read it. */
  readonly systemIdentifier: string | null;
  readonly database: string;
  /** host:port from the URL; the user and password are never written. */
  readonly hostPort: string;
  /** current_setting('server_version'). */
  readonly serverVersion: string;
}

/** A table's content on one side: its row count and the hash over its rows in key order (table-hash.ts). */
export interface TableDigest {
  readonly rows: number;
  readonly hash: string;
}

export interface TableEntry {
  /** schema.table, as source.tables chose it. */
  readonly table: string;
  /** The source's columns that were hashed, in order: the target's hidden `_zeroloss_lsn` is not among them. */
  readonly columns: readonly string[];
  /** The key columns the rows were hashed in the order of; empty: the table has no key (rows in checksum order). */
  readonly key: readonly string[];
  readonly source: TableDigest;
  /** null: the target has no such table. */
  readonly target: TableDigest | null;
  readonly equal: boolean;
}

/** How writes were stopped on the source, and the position they stopped at. */
export interface FenceRecord {
  /** read-only: zeroloss made the source refuse the application roles' writes; wait: the operator stopped the writers. */
  readonly mode: "read-only" | "wait";
  /** The application login roles fenced (read-only); empty for wait. */
  readonly roles: readonly string[];
  /** pg_current_wal_lsn() once no write was in progress and the tables' write counters stood still. */
  readonly lsn: string;
  /** ISO 8601, UTC. */
  readonly at: string;
  /** The tables' write counters still stood where they were at the fence after the tables were hashed: no write slipped past it. */
  readonly held: boolean;
}

/** A stage's count in records and in the rows they hold (docs/counter.md). */
export interface StageCounts {
  readonly emitted: number;
  readonly transferred: number;
  readonly applied: number;
  readonly duplicate: number;
  readonly quarantined: number;
}

/** The counter's ledger once everything up to the fence was applied. */
export interface CounterRecord {
  readonly records: StageCounts;
  readonly rows: StageCounts;
  /** Windows by state (balanced, open, replayed, behind, attention, mismatch). */
  readonly windows: Readonly<Record<string, number>>;
  /** Source transactions by state (applied, complete, pending, incomplete). */
  readonly transactions: Readonly<Record<string, number>>;
}

/** The verifier's comparison at the cut (services/verifier, `zeroloss verify --json`). */
export interface VerifierRecord {
  readonly result: "equal" | "drift" | "error";
  readonly passes: number;
  readonly durationMs: number;
  readonly tables: number;
  readonly rowsCompared: number;
  readonly driftRows: number;
}

export interface SequenceEntry {
  readonly sequence: string;
  /** table.column it is owned by, or null for a standalone sequence. */
  readonly ownedBy: string | null;
  /** The source's next value (null: not on the source). */
  readonly sourceNext: string | null;
  /** The target's next value before the sync, and after it (null: not on the target). */
  readonly targetBefore: string | null;
  readonly targetAfter: string | null;
  /** What the sync did: set, in sync, already ahead (or a problem: missing on target, out of range). */
  readonly action: string;
}

export interface ConstraintEntry {
  readonly table: string;
  readonly constraint: string;
  readonly references: string;
  /** Rows without the row they reference (PostgreSQL's MATCH rules). */
  readonly orphans: number;
  readonly valid: boolean;
}

/** What `zeroloss cutover` adds: the fence, the drain, the verifier, sequences and constraints. */
export interface CutoverRecord {
  readonly fence: FenceRecord;
  /** ISO 8601: when every change up to the fence was applied and the counter balanced. */
  readonly drainedAt: string;
  readonly counter: CounterRecord;
  /** Rows in the target's zeroloss.quarantine at the cut. */
  readonly quarantined: number;
  readonly verifier: VerifierRecord;
  readonly sequences: readonly SequenceEntry[];
  readonly constraints: readonly ConstraintEntry[];
}

/** Everything the signature covers. */
export interface UnsignedCertificate {
  readonly version: typeof CERTIFICATE_VERSION;
  /** ISO 8601, UTC. */
  readonly issuedAt: string;
  readonly zerolossVersion: string;
  /** sha256 hex of the configuration with its secrets taken out (fingerprint.ts). */
  readonly configFingerprint: string;
  readonly source: DatabaseIdentity;
  readonly target: DatabaseIdentity;
  readonly tables: readonly TableEntry[];
  /** True when every table is equal on both sides and, for a cutover, every claim of `cutover` holds (cutoverProven()). */
  readonly proven: boolean;
  /** Present when `zeroloss cutover` issued it. */
  readonly cutover?: CutoverRecord;
}

export interface CertificateSignature {
  readonly algorithm: typeof SIGNATURE_ALGORITHM;
  /** sha256 hex of the public key's SPKI DER: which key verifies this. */
  readonly publicKeyFingerprint: string;
  /** base64 Ed25519 signature over canonicalBytes() of the certificate without this block. */
  readonly value: string;
}

export interface Certificate extends UnsignedCertificate {
  readonly signature: CertificateSignature;
}
