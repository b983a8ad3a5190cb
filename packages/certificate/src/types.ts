// The zero-loss certificate, version 1: what a migration proves, as a document an auditor
// keeps. The JSON is the signed document (canonical.ts gives its bytes, signature.ts signs
// them); the HTML page (html.ts) is only a view of it. Sections a later `zeroloss cutover`
// fills (the fence, the counter's totals, sequences, constraints) are optional, so a
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

/** The counter's totals at the fence (filled by the cutover). */
export interface CounterTotals {
  readonly produced: string;
  readonly consumed: string;
  readonly applied: string;
}

export interface SequenceEntry {
  readonly sequence: string;
  readonly sourceNext: string | null;
  readonly targetNext: string | null;
}

export interface ConstraintEntry {
  readonly table: string;
  readonly constraint: string;
  readonly valid: boolean;
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
  /** True when every table is equal on both sides. */
  readonly proven: boolean;
  // For the cutover: absent here.
  readonly fenceLsn?: string;
  readonly fencedAt?: string;
  readonly counterTotals?: CounterTotals;
  readonly sequences?: readonly SequenceEntry[];
  readonly constraints?: readonly ConstraintEntry[];
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
