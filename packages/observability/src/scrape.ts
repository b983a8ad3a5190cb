// Reading a /metrics page back, as Prometheus does: the demo reports the services' own
// numbers from it, and the tests assert on them. Only what prom-client writes: the text
// exposition format 0.0.4 (no timestamps, no exemplars).

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)$/;

function parseValue(text: string): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  return Number(text); // NaN stays NaN
}

/** `{a="x",b="y\"z"}` → { a: "x", b: 'y"z' }. */
function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 1;
  while (i < text.length - 1) {
    const eq = text.indexOf("=", i);
    if (eq < 0 || text[eq + 1] !== '"') throw new Error(`malformed labels in metrics line: ${line}`);
    const name = text.slice(i, eq).trim();
    let value = "";
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      const c = text[j] as string;
      if (c !== "\\") {
        value += c;
        continue;
      }
      const next = text[++j];
      value += next === "n" ? "\n" : (next ?? "");
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ",") i++;
  }
  return labels;
}

/** Every sample of a /metrics page; comments and blank lines are skipped. */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = SAMPLE.exec(line);
    if (m === null) throw new Error(`malformed metrics line: ${line}`);
    samples.push({ name: m[1] as string, labels: m[2] === undefined ? {} : parseLabels(m[2], line), value: parseValue(m[3] as string) });
  }
  return samples;
}

const matches = (s: Sample, name: string, labels: Readonly<Record<string, string>>) =>
  s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v);

/** Sum of the samples of `name` that carry all of `labels` (0 when there are none). */
export function sumOf(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  let sum = 0;
  for (const s of samples) if (matches(s, name, labels)) sum += s.value;
  return sum;
}

/** Distinct values of one label among the samples of `name`. */
export function labelValues(samples: readonly Sample[], name: string, label: string): string[] {
  const values = new Set<string>();
  for (const s of samples) {
    const v = s.labels[label];
    if (s.name === name && v !== undefined) values.add(v);
  }
  return [...values].sort();
}

export interface Bucket {
  /** Upper bound (le); the last one is +Inf. */
  readonly le: number;
  /** Cumulative count of observations ≤ le. */
  readonly count: number;
}

/** A histogram's cumulative buckets, summed over every other label, in ascending `le`. */
export function histogramBuckets(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): Bucket[] {
  const byLe = new Map<number, number>();
  for (const s of samples) {
    const le = s.labels["le"];
    if (le === undefined || !matches(s, `${name}_bucket`, labels)) continue;
    const bound = parseValue(le);
    byLe.set(bound, (byLe.get(bound) ?? 0) + s.value);
  }
  return [...byLe.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
}

/** The observations between two scrapes of the same histogram: `after` minus `before`, bucket by bucket. */
export function bucketsSince(after: readonly Bucket[], before: readonly Bucket[]): Bucket[] {
  const earlier = new Map(before.map((b) => [b.le, b.count]));
  return after.map((b) => ({ le: b.le, count: b.count - (earlier.get(b.le) ?? 0) }));
}

/**
 * The q-quantile (0..1) the way PromQL's histogram_quantile estimates it: linear
 * interpolation inside the bucket that holds it, the lower bound of the first bucket being 0.
 * null without observations; the highest finite bound when it falls in the +Inf bucket.
 */
export function histogramQuantile(q: number, buckets: readonly Bucket[]): number | null {
  const total = buckets.at(-1)?.count ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (b.le === Number.POSITIVE_INFINITY) return lowerBound;
      const inBucket = b.count - lowerCount;
      return inBucket <= 0 ? b.le : lowerBound + (b.le - lowerBound) * ((rank - lowerCount) / inBucket);
    }
    lowerBound = b.le;
    lowerCount = b.count;
  }
  return lowerBound;
}
