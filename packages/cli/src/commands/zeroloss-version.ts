import { readFileSync } from "node:fs";

/** The version the CLI's package.json declares: the zeroloss that issued a certificate. */
export function zerolossVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}
