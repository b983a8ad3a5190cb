// The configuration's fingerprint: sha256 hex of its canonical JSON with every secret taken
// out, so two certificates tell whether they were issued under the same settings without
// either carrying a password. Taken out: passwords in URLs (user:password@ and ?password=,
// sslpassword=), and the values of password, token and secret keys, which the loaded
// configuration holds read in from their …File keys. The …File paths themselves stay: a path
// is a setting, its content is the secret.
import { createHash } from "node:crypto";
import { canonicalJson } from "./canonical.js";

const SECRET_KEYS = /^(password|token|secret|sslpassword)$/i;
const SECRET_PARAMS = ["password", "sslpassword"];

/** A URL without its password (the user stays: which role ran is a setting). Not a URL: as it is. */
export function urlWithoutPassword(text: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return text;
  try {
    const u = new URL(text);
    u.password = "";
    for (const p of SECRET_PARAMS) u.searchParams.delete(p);
    return u.toString();
  } catch {
    // Unparsable (a socket folder as host): cut anything between the first ':' after the user and '@'.
    return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@]*@/i, "$1@");
  }
}

/** The value with secrets removed: secret keys dropped, URLs stripped of passwords, recursively. */
export function withoutSecrets(value: unknown): unknown {
  if (typeof value === "string") return urlWithoutPassword(value);
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([k]) => !SECRET_KEYS.test(k))
        .map(([k, v]) => [k, withoutSecrets(v)]),
    );
  }
  return value;
}

export function configFingerprint(config: unknown): string {
  return createHash("sha256").update(canonicalJson(withoutSecrets(config)), "utf8").digest("hex");
}
