// The bytes a certificate's signature covers: JSON with every object's keys sorted (by code
// unit, recursively) and no whitespace, of the certificate without its signature block. Key
// order and formatting are then not part of the document: a pretty-printed certificate and
// the same one re-serialised by another tool verify alike, while any changed value does not.
import type { Certificate, UnsignedCertificate } from "./types.js";

/** Deterministic JSON: sorted keys, no whitespace; undefined members are left out as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    const text = JSON.stringify(value);
    // Only JSON values can be signed: a function or a bare undefined has no bytes.
    if (text === undefined) throw new TypeError(`canonicalJson: ${typeof value} is not a JSON value`);
    return text;
  }
  if (Array.isArray(value)) return `[${value.map((v: unknown) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/** The signed bytes: the canonical JSON (UTF-8) of everything but `signature`. */
export function canonicalBytes(cert: UnsignedCertificate | Certificate): Buffer {
  const { signature: _signature, ...unsigned } = cert as Certificate;
  return Buffer.from(canonicalJson(unsigned), "utf8");
}
