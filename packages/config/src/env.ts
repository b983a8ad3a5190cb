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
  /**
   * A key that is a scalar or a mapping (`source.slot: name` or `source.slot: { name, failover }`):
   * `depth` is the length of that key's path, `field` the mapping's field the scalar stands for.
   * Setting the scalar onto a mapping sets that field; setting a field onto a scalar makes the
   * mapping `{ [field]: scalar }` first, so the file's form and the variables combine.
   */
  readonly shorthand?: { readonly depth: number; readonly field: string };
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

function collect(schema: z.ZodType, path: string[], out: EnvKey[], shorthand?: EnvKey["shorthand"]): void {
  const node = unwrap(schema);
  if (node instanceof z.ZodObject) {
    for (const [key, child] of Object.entries(node.shape)) collect(child as z.ZodType, [...path, key], out, shorthand);
    return;
  }
  if (node instanceof z.ZodUnion) {
    // A scalar or a mapping: one variable for the scalar, one per field of the mapping but the one the scalar stands for.
    const options = (node.options as readonly z.ZodType[]).map(unwrap);
    const scalar = options.find((o) => leafKind(o) !== undefined);
    const mapping = options.find((o): o is z.ZodObject => o instanceof z.ZodObject);
    const scalarKind = scalar === undefined ? undefined : leafKind(scalar);
    if (scalarKind === undefined || mapping === undefined) return;
    const field = Object.entries(mapping.shape).find(([, child]) => leafKind(child as z.ZodType) === scalarKind)?.[0];
    if (field === undefined) return;
    const here = { depth: path.length, field };
    out.push({ path, variable: ENV_PREFIX + path.map(toSnake).join("_"), kind: scalarKind, shorthand: here });
    for (const [key, child] of Object.entries(mapping.shape)) {
      if (key !== field) collect(child as z.ZodType, [...path, key], out, here);
    }
    return;
  }
  const kind = leafKind(node);
  if (kind !== undefined) out.push({ path, variable: ENV_PREFIX + path.map(toSnake).join("_"), kind, ...(shorthand === undefined ? {} : { shorthand }) });
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

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function setPath(target: Record<string, unknown>, key: EnvKey, value: unknown): void {
  const { path, shorthand } = key;
  let node = target;
  for (let i = 0; i < path.length - 1; i++) {
    const segment = path[i] as string;
    const next = node[segment];
    if (isMapping(next)) {
      node = next;
    } else {
      // A field of a scalar-or-mapping key onto its scalar form: the mapping that scalar stands for.
      const created: Record<string, unknown> = shorthand !== undefined && i === shorthand.depth - 1 && next !== undefined && next !== null ? { [shorthand.field]: next } : {};
      node[segment] = created;
      node = created;
    }
  }
  const last = path[path.length - 1] as string;
  const current = node[last];
  // The scalar of a scalar-or-mapping key onto its mapping form: the field it stands for.
  if (shorthand !== undefined && shorthand.depth === path.length && isMapping(current)) current[shorthand.field] = value;
  else node[last] = value;
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
    setPath(doc, key, parsed.value);
    applied.push(key.variable);
  }
  return { applied, problems };
}
