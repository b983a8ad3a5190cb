import { describe, expect, it } from "vitest";
import { Counter, Histogram, Registry } from "prom-client";
import { bucketsSince, histogramBuckets, histogramQuantile, labelValues, parseMetrics, sumOf } from "./scrape.js";

describe("reading a /metrics page back", () => {
  it("parses what prom-client writes, escaped label values included", async () => {
    const registry = new Registry();
    const c = new Counter({ name: "t_records_total", help: "h", labelNames: ["table", "result"], registers: [registry] });
    c.inc({ table: 'public."odd"\\name', result: "applied" }, 5);
    c.inc({ table: "public.b", result: "applied" }, 2);
    c.inc({ table: "public.b", result: "duplicate" }, 1);
    const samples = parseMetrics(await registry.metrics());
    expect(sumOf(samples, "t_records_total")).toBe(8);
    expect(sumOf(samples, "t_records_total", { result: "applied" })).toBe(7);
    expect(sumOf(samples, "t_records_total", { table: 'public."odd"\\name' })).toBe(5);
    expect(sumOf(samples, "t_missing")).toBe(0);
    expect(labelValues(samples, "t_records_total", "table")).toEqual(['public."odd"\\name', "public.b"]);
  });

  it("refuses a line that is no sample", () => {
    expect(() => parseMetrics("not a metric line at all")).toThrow(/malformed metrics line/);
  });

  it("estimates quantiles as histogram_quantile does, also between two scrapes", async () => {
    const registry = new Registry();
    const h = new Histogram({ name: "t_seconds", help: "h", buckets: [0.1, 0.5, 1], registers: [registry] });
    for (let i = 0; i < 10; i++) h.observe(0.05); // all in the first bucket
    const before = histogramBuckets(parseMetrics(await registry.metrics()), "t_seconds");
    expect(before).toEqual([
      { le: 0.1, count: 10 },
      { le: 0.5, count: 10 },
      { le: 1, count: 10 },
      { le: Number.POSITIVE_INFINITY, count: 10 },
    ]);
    for (let i = 0; i < 8; i++) h.observe(0.3);
    h.observe(0.8);
    h.observe(7);
    const since = bucketsSince(histogramBuckets(parseMetrics(await registry.metrics()), "t_seconds"), before);
    expect(since.map((b) => b.count)).toEqual([0, 8, 9, 10]);
    // rank 5 of 10 lies in (0.1, 0.5], 5 of its 8: 0.1 + 0.4 * 5/8
    expect(histogramQuantile(0.5, since)).toBeCloseTo(0.35, 10);
    expect(histogramQuantile(0.9, since)).toBeCloseTo(1, 10);
    expect(histogramQuantile(0.99, since)).toBe(1); // in +Inf: the highest finite bound
    expect(histogramQuantile(0.5, bucketsSince(before, before))).toBeNull();
  });
});
