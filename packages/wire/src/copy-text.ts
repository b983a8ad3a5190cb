// PostgreSQL's COPY text format, the form bulk snapshot records carry their rows in: one line
// per row, a tab between fields, \N for NULL, and backslash, tab, newline and carriage
// return (and, from COPY TO, backspace, form feed and vertical tab) escaped. Values are
// PostgreSQL's own text output, so the target's input functions read them back exactly.
// The producer reads it from the source (COPY … TO STDOUT) and the consumer hands it to the
// target (COPY … FROM STDIN) without decoding it; only the key fields and, on the rare path
// of a quarantined row, its values are parsed here.
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

const UNESCAPE: Readonly<Record<string, string>> = { b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\" };

/** One field of a COPY text line, unescaped; \N is NULL. Octal and hex escapes (never written by COPY TO) are refused. */
export function parseCopyField(field: string): string | null {
  if (field === "\\N") return null;
  if (!field.includes("\\")) return field;
  return field.replace(/\\(.)/gs, (_, ch: string) => {
    const v = UNESCAPE[ch];
    if (v === undefined) throw new Error(`COPY text escape \\${ch} is not one COPY TO writes`);
    return v;
  });
}

/** The fields of a COPY text line (without its newline), unescaped. */
export function parseCopyLine(line: string): (string | null)[] {
  return line.split("\t").map(parseCopyField);
}

/** The lines of a COPY text payload (each ends with a newline). */
export function copyLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.pop() !== "") throw new Error("COPY text does not end with a newline");
  return lines;
}
