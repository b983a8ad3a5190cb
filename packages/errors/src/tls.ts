// TLS failures named for an operator: Node.js reports them as OpenSSL codes deep in a cause
// chain (node-postgres and kafkajs wrap them). A failed certificate check is not cured by
// retrying; each service stops with one clear error instead of reconnecting forever.

export interface TlsFailure {
  /** Node.js's or OpenSSL's code, e.g. SELF_SIGNED_CERT_IN_CHAIN. */
  readonly code: string;
  /** What went wrong, for a person. */
  readonly reason: string;
  /** What usually fixes it (names the settings in general terms; callers add their own key names). */
  readonly fix: string;
}

const UNTRUSTED = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
]);

function classify(code: string, message: string): TlsFailure | null {
  if (UNTRUSTED.has(code)) return { code, reason: "the server's certificate is not signed by a CA this client trusts", fix: "trust the CA that signed it" };
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return { code, reason: "the server's certificate does not name the host connected to", fix: "connect by a name the certificate carries" };
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") return { code, reason: "the server's certificate is outside its validity period", fix: "renew the server's certificate" };
  if (/CERTIFICATE_REQUIRED|certificate required/i.test(`${code} ${message}`)) return { code: code || "CERTIFICATE_REQUIRED", reason: "the server requires a client certificate", fix: "give a client certificate and key" };
  if (/WRONG_VERSION_NUMBER|wrong version number/i.test(`${code} ${message}`)) return { code: code || "WRONG_VERSION_NUMBER", reason: "the server did not answer in TLS on this port", fix: "check the port, or turn TLS off for a plaintext server" };
  if (/BAD_CERTIFICATE|UNKNOWN_CA|alert (bad certificate|unknown ca)/i.test(`${code} ${message}`)) return { code: code || "BAD_CERTIFICATE", reason: "the server refused this client's certificate, or wanted one and got none", fix: "give a client certificate and key signed by a CA the server trusts" };
  return null;
}

/** The TLS failure somewhere in `err`'s cause chain (cause, originalError), or null. */
export function tlsFailure(err: unknown): TlsFailure | null {
  let current: unknown = err;
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    const e = current as { code?: unknown; message?: unknown; cause?: unknown; originalError?: unknown };
    const found = classify(typeof e.code === "string" ? e.code : "", typeof e.message === "string" ? e.message : "");
    if (found !== null) return found;
    current = e.cause ?? e.originalError;
  }
  return null;
}
