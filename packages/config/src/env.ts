// Environment overrides for zeroloss.yaml. The variable for a key is derived from its path,
// so no hand-kept list can drift from the schema: `kafka.topicPrefix` is
// ZEROLOSS_KAFKA_TOPIC_PREFIX, `source.url` is ZEROLOSS_SOURCE_URL. Lists are
// comma-separated, numbers and booleans are parsed, and a value that does not parse is
// reported with the variable's name like any other config problem.
import { z } from "zod";
import { configSchema } from "./schema.js";

export type LeafKind = "string" | "number" | "boolean" | "string[]";

export interface EnvKey {
  readonly path: readonly string[];
  readonly variable: string;
  readonly kind: LeafKind;
}

export const ENV_PREFIX = "ZEROLOSS_";

function toSnake(segment: string): string {
  return segment.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

/** Peels defaults, optionals and transforms off a schema node. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  for (;;) {
    if (current instanceof z.ZodDefault || current instanceof z.ZodOptional || current instanceof z.ZodNullable) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType;
    } else {
      return current;
    }
  }
}

function leafKind(schema: z.ZodType): LeafKind | undefined {
  const node = unwrap(schema);
  if (node instanceof z.ZodString || node instanceof z.ZodEnum) return "string";
  if (node instanceof z.ZodNumber) return "number";
  if (node instanceof z.ZodBoolean) return "boolean";
  if (node instanceof z.ZodArray) return unwrap(node.element as z.ZodType) instanceof z.ZodString ? "string[]" : undefined;
  return undefined;
}

function collect(schema: z.ZodType, path: string[], out: EnvKey[]): void {
  const node = unwrap(schema);
  if (node instanceof z.ZodObject) {
    for (const [key, child] of Object.entries(node.shape)) collect(child as z.ZodType, [...path, key], out);
    return;
  }
  const kind = leafKind(node);
  if (kind !== undefined) out.push({ path, variable: ENV_PREFIX + path.map(toSnake).join("_"), kind });
}

export const ENV_KEYS: readonly EnvKey[] = (() => {
  const out: EnvKey[] = [];
  collect(configSchema, [], out);
  return out;
})();

export interface EnvProblem {
  readonly variable: string;
  readonly message: string;
}

function parseValue(key: EnvKey, raw: string): { value: unknown } | { problem: string } {
  switch (key.kind) {
    case "string":
      return { value: raw };
    case "string[]":
      return { value: raw.split(",").map((s) => s.trim()).filter((s) => s.length > 0) };
    case "number": {
      if (!/^-?\d+(\.\d+)?$/.test(raw.trim())) return { problem: `expected a number, got ${JSON.stringify(raw)}` };
      return { value: Number(raw) };
    }
    case "boolean": {
      const v = raw.trim().toLowerCase();
      if (v === "true" || v === "1") return { value: true };
      if (v === "false" || v === "0") return { value: false };
      return { problem: `expected true or false, got ${JSON.stringify(raw)}` };
    }
  }
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i] as string;
    const next = node[key];
    if (typeof next === "object" && next !== null && !Array.isArray(next)) {
      node = next as Record<string, unknown>;
    } else {
      const created: Record<string, unknown> = {};
      node[key] = created;
      node = created;
    }
  }
  node[path[path.length - 1] as string] = value;
}

/** Applies ZEROLOSS_* variables onto a parsed (not yet validated) config document, in place. */
export function applyEnvOverrides(
  doc: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
): { applied: string[]; problems: EnvProblem[] } {
  const applied: string[] = [];
  const problems: EnvProblem[] = [];
  for (const key of ENV_KEYS) {
    const raw = env[key.variable];
    if (raw === undefined || raw === "") continue;
    const parsed = parseValue(key, raw);
    if ("problem" in parsed) {
      problems.push({ variable: key.variable, message: parsed.problem });
      continue;
    }
    setPath(doc, key.path, parsed.value);
    applied.push(key.variable);
  }
  return { applied, problems };
}
