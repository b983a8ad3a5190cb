// The secrets this process holds (passwords, tokens), so that nothing it prints shows them:
// the logger and describeError pass every line through redact(). The configuration loader
// registers each secret it resolves; a token read later (oauthbearer) is registered when read.
// Process-wide on purpose: a secret must be hidden from every writer, not only from those
// handed the right object.

const known = new Set<string>();
let pattern: RegExp | null = null;

/** What a secret is replaced with in anything printed. */
export const REDACTED = "[redacted]";

/**
 * The shortest secret hidden: replacing shorter ones (or digits only) would blank out common
 * words and numbers in every line (a timestamp, a topic name). Use passwords at least this long.
 */
export const MIN_SECRET_LENGTH = 8;

function forms(value: string): string[] {
  // As written, as it appears inside a JSON string, and as it appears in a URL.
  return [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)];
}

/** Registers a secret to be hidden; values too short or all digits are not (MIN_SECRET_LENGTH). */
export function keepSecret(value: string | undefined): void {
  if (value === undefined || value.length < MIN_SECRET_LENGTH || /^\d+$/.test(value)) return;
  for (const form of forms(value)) {
    if (known.has(form)) continue;
    known.add(form);
    pattern = null;
  }
}

/** Forgets a secret no longer held (a renewed token's predecessor), so the set does not grow with every renewal. */
export function forgetSecret(value: string): void {
  for (const form of forms(value)) if (known.delete(form)) pattern = null;
}

/** `text` with every registered secret replaced by REDACTED. */
export function redact(text: string): string {
  if (known.size === 0) return text;
  pattern ??= new RegExp([...known].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g");
  return text.replace(pattern, REDACTED);
}
