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
const decimal: Check = (v) => typeof v === "string" && /^\d+$/.test(v);

export const CERTIFICATE_SHAPE: Shape = {
  version: req((v) => v === CERTIFICATE_VERSION),
  issuedAt: req((v) => typeof v === "string" && !Number.isNaN(Date.parse(v))),
  zerolossVersion: req(isString),
  configFingerprint: req(isHex64),
  source: req(identity),
  target: req(identity),
  tables: req([table]),
  proven: req(isBool),
  fenceLsn: opt((v) => typeof v === "string" && /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/.test(v)),
  fencedAt: opt((v) => typeof v === "string" && !Number.isNaN(Date.parse(v))),
  counterTotals: opt({ produced: req(decimal), consumed: req(decimal), applied: req(decimal) }),
  sequences: opt([{ sequence: req(isString), sourceNext: req(nullable(decimal)), targetNext: req(nullable(decimal)) }]),
  constraints: opt([{ table: req(isString), constraint: req(isString), valid: req(isBool) }]),
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
