// Signing and verifying a certificate with Ed25519 (node:crypto, no other dependency). The
// signature covers canonicalBytes(): the certificate without its signature block. The block
// names its key by the SHA-256 of the public key's SPKI DER, so a verifier given the wrong
// key says so instead of reporting a forged document.
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { ZerolossError } from "@zeroloss/errors";
import { canonicalBytes } from "./canonical.js";
import { CERTIFICATE_SHAPE, firstProblem } from "./shape.js";
import { CERTIFICATE_VERSION, SIGNATURE_ALGORITHM, type Certificate, type UnsignedCertificate } from "./types.js";

export interface VerifyResult {
  readonly ok: boolean;
  /** What failed, for a person: "signature mismatch", "wrong key: …", "unknown version 2", "malformed field tables[0].equal". Null when ok. */
  readonly reason: string | null;
}

function asEd25519(key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== "ed25519") {
    throw new ZerolossError("CERTIFICATE_KEY_INVALID", `${what} is a ${key.asymmetricKeyType ?? "symmetric"} key, not an Ed25519 key`);
  }
  return key;
}

/** The private key from PEM text; CERTIFICATE_KEY_INVALID when it is not an Ed25519 private key. */
export function loadPrivateKey(pem: string): KeyObject {
  try {
    return asEd25519(createPrivateKey(pem), "the private key");
  } catch (err) {
    if (err instanceof ZerolossError) throw err;
    throw new ZerolossError("CERTIFICATE_KEY_INVALID", `the private key is not a PEM private key: ${(err as Error).message}`, { cause: err });
  }
}

/** The public key from PEM text (a private key's PEM gives its public half); CERTIFICATE_KEY_INVALID when not Ed25519. */
export function loadPublicKey(pem: string): KeyObject {
  try {
    return asEd25519(createPublicKey(pem), "the public key");
  } catch (err) {
    if (err instanceof ZerolossError) throw err;
    throw new ZerolossError("CERTIFICATE_KEY_INVALID", `the public key is not a PEM public key: ${(err as Error).message}`, { cause: err });
  }
}

/** sha256 hex of the key's SPKI DER: the same for the key however its PEM is wrapped. */
export function publicKeyFingerprint(key: KeyObject): string {
  return createHash("sha256").update(key.export({ type: "spki", format: "der" })).digest("hex");
}

export function signCertificate(unsigned: UnsignedCertificate, privateKeyPem: string): Certificate {
  const key = loadPrivateKey(privateKeyPem);
  const { signature: _ignored, ...body } = unsigned as Certificate; // a certificate signed again replaces its signature
  const value = sign(null, canonicalBytes(body), key).toString("base64");
  return { ...body, signature: { algorithm: SIGNATURE_ALGORITHM, publicKeyFingerprint: publicKeyFingerprint(createPublicKey(key)), value } };
}

/**
 * Whether `cert` (parsed JSON, of any shape) is a v1 certificate signed by the key in
 * `publicKeyPem`. Checked in this order, the reason naming the first that fails: the
 * version, every field's form, the key's fingerprint, the signature.
 */
export function verifyCertificate(cert: unknown, publicKeyPem: string): VerifyResult {
  const key = loadPublicKey(publicKeyPem);
  if (typeof cert !== "object" || cert === null || Array.isArray(cert)) return { ok: false, reason: "malformed: the document is not a JSON object" };
  const version = (cert as { version?: unknown }).version;
  if (version !== CERTIFICATE_VERSION) return { ok: false, reason: `unknown version ${JSON.stringify(version) ?? "(none)"}: this zeroloss reads version ${CERTIFICATE_VERSION}` };
  const problem = firstProblem(cert, CERTIFICATE_SHAPE, "");
  if (problem !== null) return { ok: false, reason: `malformed field ${problem}` };
  const c = cert as Certificate;
  const expected = publicKeyFingerprint(key);
  if (c.signature.publicKeyFingerprint !== expected) {
    return { ok: false, reason: `wrong key: the certificate was signed by the key with fingerprint ${c.signature.publicKeyFingerprint}, the key given has ${expected}` };
  }
  const good = verify(null, canonicalBytes(c), key, Buffer.from(c.signature.value, "base64"));
  return good ? { ok: true, reason: null } : { ok: false, reason: "signature mismatch: the document was changed after it was signed" };
}

/** verifyCertificate() over a file's text: text that is not JSON is an invalid certificate, not an error. */
export function verifyCertificateText(text: string, publicKeyPem: string): VerifyResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    loadPublicKey(publicKeyPem); // a bad key is still the caller's error, whatever the document
    return { ok: false, reason: `malformed: not JSON (${(err as Error).message})` };
  }
  return verifyCertificate(parsed, publicKeyPem);
}
