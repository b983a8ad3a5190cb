// PostgreSQL COPY text format: one line per row, tab between fields, \N for NULL, and
// backslash, tab, newline and carriage return escaped. Values are PostgreSQL's own text
// output, so the target's input functions read them back exactly.
const SPECIAL = /[\\\t\n\r]/;

export function copyField(value: string | null): string {
  if (value === null) return "\\N";
  if (!SPECIAL.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (ch) => (ch === "\\" ? "\\\\" : ch === "\t" ? "\\t" : ch === "\n" ? "\\n" : "\\r"));
}

/** An integer[] literal for COPY, or NULL. */
export function copyIntArray(values: readonly number[] | null): string {
  return values === null ? "\\N" : `{${values.join(",")}}`;
}
