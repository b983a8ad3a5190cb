// Loads zeroloss.yaml, applies ZEROLOSS_* environment overrides, validates, and reports
// every problem at once, each with its path (or variable), so an operator fixes a file in
// one pass instead of one error per restart.
import { readFile } from "node:fs/promises";
import { parseDocument } from "yaml";
import { isZerolossError, redact, ZerolossError } from "@zeroloss/errors";
import { configSchema, type Config } from "./schema.js";
import { applyEnvOverrides } from "./env.js";
import { resolveSecrets } from "./secrets.js";

export interface ConfigProblem {
  /** `kafka.partitions`, or the environment variable at fault, or `(file)`. */
  readonly path: string;
  readonly message: string;
}

export class ConfigError extends ZerolossError {
  readonly problems: readonly ConfigProblem[];

  constructor(code: "CONFIG_INVALID" | "CONFIG_NOT_FOUND", source: string, problems: readonly ConfigProblem[]) {
    const list = problems.map((p) => `  - ${p.path}: ${p.message}`).join("\n");
    const noun = problems.length === 1 ? "problem" : "problems";
    super(code, `${source}: ${problems.length} configuration ${noun}:\n${list}`, {
      details: { source, problems },
    });
    this.problems = problems;
  }
}

export interface LoadConfigOptions {
  /** Path of the YAML file; omit to configure from the environment alone. */
  readonly file?: string;
  /** Defaults to process.env; tests pass their own. Read here and nowhere deeper. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Validates an already-read YAML text. `source` names it in errors. */
export function parseConfig(
  text: string,
  source: string,
  env: Readonly<Record<string, string | undefined>> = {},
): Config {
  const problems: ConfigProblem[] = [];
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  for (const err of doc.errors) {
    const where = err.linePos?.[0] ? `line ${err.linePos[0].line}, column ${err.linePos[0].col}` : "(file)";
    problems.push({ path: where, message: (err.message.split("\n")[0] ?? err.message).replace(/ at line \d+, column \d+:?$/, "") });
  }
  // A document that does not parse has no keys to validate: its syntax errors are the report.
  if (problems.length > 0) throw new ConfigError("CONFIG_INVALID", source, problems);
  let raw: unknown = doc.toJS();
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    problems.push({ path: "(file)", message: "must be a YAML mapping of sections (source, target, kafka, ...)" });
    raw = {};
  }
  const overrides = applyEnvOverrides(raw as Record<string, unknown>, env);
  for (const p of overrides.problems) problems.push({ path: p.variable, message: p.message });

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.length > 0 ? issue.path.map(String).join(".") : "(file)";
      problems.push({ path, message: issue.message });
    }
  }
  if (problems.length > 0 || !result.success) throw new ConfigError("CONFIG_INVALID", source, problems);
  const cfg = result.data;
  const config = resolveSecrets({ ...cfg, counter: { ...cfg.counter, url: cfg.counter.url ?? cfg.target.url } }, cfg.counter.url !== undefined, problems);
  if (problems.length > 0) throw new ConfigError("CONFIG_INVALID", source, problems);
  return config;
}

export async function loadConfig(options: LoadConfigOptions = {}): Promise<Config> {
  const env = options.env ?? process.env;
  if (options.file === undefined) return parseConfig("", "environment", env);
  let text: string;
  try {
    text = await readFile(options.file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message = code === "ENOENT" ? "file not found" : `cannot read: ${(err as Error).message}`;
    throw new ConfigError("CONFIG_NOT_FOUND", options.file, [{ path: "(file)", message }]);
  }
  return parseConfig(text, options.file, env);
}

/**
 * loadConfig for a service's main (`zeroloss <service> --config FILE`): on any problem it
 * writes `zeroloss <service>: error [CODE]: ...` to stderr and returns null, and the main
 * exits with 2 (configuration).
 */
export async function loadServiceConfig(service: string, file: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Config | null> {
  try {
    return await loadConfig({ ...(file === undefined ? {} : { file }), env });
  } catch (err) {
    const code = isZerolossError(err) ? err.code : "CONFIG_INVALID";
    process.stderr.write(redact(`zeroloss ${service}: error [${code}]: ${err instanceof Error ? err.message : String(err)}\n`));
    return null;
  }
}
