// Is a parsed JSON value a well-formed v1 certificate? Checked field by field, unknown keys
// refused, so a verifier never trusts a document whose fields it does not understand: a
// field added by hand, even one the signature does not cover, makes the certificate malformed.
import { CERTIFICATE_VERSION, SIGNATURE_ALGORITHM } from "./types.js";

type Check = (v: unknown) => boolean;

const isString: Check = (v) => typeof v === "string";
const isHex64: Check = (v) => typeof v === "string" && /^[0-9a-f]{64}$/.test(v);
const isCount: Check = (v) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isBool: Check = (v) => typeof v === "boolean";
const nullable =
  (c: Check): Check =>
  (v) =>
    v === null || c(v);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

interface Field {
  readonly check: Check | Shape | readonly [Shape];
  readonly optional?: boolean;
}
type Shape = { readonly [key: string]: Field };

const req = (check: Field["check"]): Field => ({ check });
const opt = (check: Field["check"]): Field => ({ check, optional: true });

const identity: Shape = {
  systemIdentifier: req(nullable((v) => typeof v === "string" && /^\d+$/.test(v))),
  database: req(isString),
  hostPort: req(isString),
  serverVersion: req(isString),
};
const digest: Shape = { rows: req(isCount), hash: req(isHex64) };
const table: Shape = {
  table: req(isString),
  columns: req((v) => Array.isArray(v) && v.length > 0 && v.every(isString)),
  key: req((v) => Array.isArray(v) && v.every(isString)),
  source: req(digest),
  target: req((v) => v === null || firstProblem(v, digest, "") === null),
  equal: req(isBool),
};
/** A sequence value as text: bigint, and negative for a descending sequence. */
const decimal: Check = (v) => typeof v === "string" && /^-?\d+$/.test(v);
const isLsn: Check = (v) => typeof v === "string" && /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/.test(v);
const isTime: Check = (v) => typeof v === "string" && !Number.isNaN(Date.parse(v));
/** { state: count }: the counter's windows or transactions by state. */
const isCountsByName: Check = (v) => isRecord(v) && Object.values(v).every(isCount);
const stageCounts: Shape = { emitted: req(isCount), transferred: req(isCount), applied: req(isCount), duplicate: req(isCount), quarantined: req(isCount) };

const cutover: Shape = {
  fence: req({
    mode: req((v) => v === "read-only" || v === "wait"),
    roles: req((v) => Array.isArray(v) && v.every(isString)),
    lsn: req(isLsn),
    at: req(isTime),
    held: req(isBool),
  }),
  drainedAt: req(isTime),
  counter: req({ records: req(stageCounts), rows: req(stageCounts), windows: req(isCountsByName), transactions: req(isCountsByName) }),
  quarantined: req(isCount),
  verifier: req({
    result: req((v) => v === "equal" || v === "drift" || v === "error"),
    passes: req(isCount),
    durationMs: req(isCount),
    tables: req(isCount),
    rowsCompared: req(isCount),
    driftRows: req(isCount),
  }),
  sequences: req([
    {
      sequence: req(isString),
      ownedBy: req(nullable(isString)),
      sourceNext: req(nullable(decimal)),
      targetBefore: req(nullable(decimal)),
      targetAfter: req(nullable(decimal)),
      action: req(isString),
    },
  ]),
  constraints: req([{ table: req(isString), constraint: req(isString), references: req(isString), orphans: req(isCount), valid: req(isBool) }]),
};

export const CERTIFICATE_SHAPE: Shape = {
  version: req((v) => v === CERTIFICATE_VERSION),
  issuedAt: req(isTime),
  zerolossVersion: req(isString),
  configFingerprint: req(isHex64),
  source: req(identity),
  target: req(identity),
  tables: req([table]),
  proven: req(isBool),
  cutover: opt(cutover),
  signature: req({
    algorithm: req((v) => v === SIGNATURE_ALGORITHM),
    publicKeyFingerprint: req(isHex64),
    // Canonical base64 only (re-encoding gives the same text): otherwise its last character's unused bits could change unnoticed.
    value: req((v) => typeof v === "string" && v.length > 0 && Buffer.from(v, "base64").toString("base64") === v),
  }),
};

/** The path of the first field that is missing, unknown or of the wrong form; null when the value has the shape. */
export function firstProblem(value: unknown, shape: Shape, path: string): string | null {
  if (!isRecord(value)) return path === "" ? "(the document is not a JSON object)" : path;
  for (const key of Object.keys(value)) {
    if (!(key in shape)) return `${path}${key} (unknown field)`;
  }
  for (const [key, field] of Object.entries(shape)) {
    const v = value[key];
    const at = `${path}${key}`;
    if (v === undefined) {
      if (field.optional === true) continue;
      return `${at} (missing)`;
    }
    const problem = checkField(v, field.check, at);
    if (problem !== null) return problem;
  }
  return null;
}

function checkField(v: unknown, check: Field["check"], at: string): string | null {
  if (typeof check === "function") return check(v) ? null : at;
  if (Array.isArray(check)) {
    if (!Array.isArray(v)) return at;
    const item = check[0] as Shape;
    for (let i = 0; i < v.length; i++) {
      const p = firstProblem(v[i], item, `${at}[${i}].`);
      if (p !== null) return p;
    }
    return null;
  }
  return firstProblem(v, check as Shape, `${at}.`);
}
