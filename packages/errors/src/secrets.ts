// The secrets this process holds (passwords, tokens), so that nothing it prints shows them:
// the logger and describeError pass every line through redact(). The configuration loader
// registers each secret it resolves; a token read later (oauthbearer) is registered when read.
// Process-wide on purpose: a secret must be hidden from every writer, not only from those
// handed the right object.

const known = new Set<string>();
let pattern: RegExp | null = null;

/** What a secret is replaced with in anything printed. */
export const REDACTED = "[redacted]";

/** Registers a secret; short values (under 4 characters) are refused as too common to hide safely. */
export function keepSecret(value: string | undefined): void {
  if (value === undefined || value.length < 4) return;
  // As written, as it appears inside a JSON string, and as it appears in a URL.
  for (const form of [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)]) known.add(form);
  pattern = null;
}

/** `text` with every registered secret replaced by REDACTED. */
export function redact(text: string): string {
  if (known.size === 0) return text;
  pattern ??= new RegExp([...known].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g");
  return text.replace(pattern, REDACTED);
}
