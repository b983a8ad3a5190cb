// deploy/ as an operator runs it: the alert rules load in Prometheus (promtool check rules)
// and fire when they should (promtool test rules), the scrape config points at the four
// services' default ports and loads the rules, docker-compose.yml mounts what it names, and
// each running service's /metrics passes `promtool check metrics`. Every metric the rules
// and the Grafana dashboard query exists on some service's /metrics, so neither drifts
// from the code.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse } from "yaml";
import type pg from "pg";
import { parseConfig } from "@zeroloss/config";
import { sourceClient, waitForEqual, type TableSpec } from "../consumer/harness.js";
import { startService, type RunningProducer } from "../producer/harness.js";
import { freePort, pollUntil } from "@zeroloss/devstack";
import { counterFixture, waitForSummary, type CounterFixture, type RunningCounter } from "../counter/harness.js";

const ROOT = resolve(import.meta.dirname, "../..");
const VERIFIER_MAIN = resolve(ROOT, "services/verifier/dist/main.js");
const DEPLOY = resolve(ROOT, "deploy");
const TABLES: TableSpec[] = [{ name: "public.items", columns: ["id", "v"], key: ["id"] }];

function promtool(args: string[], input?: string): { code: number | null; out: string } {
  const r = spawnSync("promtool", args, { cwd: ROOT, encoding: "utf8", input, timeout: 60_000 });
  if (r.error) throw new Error(`promtool ${args[0] ?? ""}: ${r.error.message} (install it with scripts/bootstrap --test-tools; Debian: apt-get install prometheus)`);
  return { code: r.status, out: r.stdout + r.stderr };
}

interface RuleFile {
  groups: { name: string; rules: { alert: string; expr: string }[] }[];
}

/** Metric names a PromQL expression reads (histogram series map to their family). */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\b(zeroloss_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ""));
}

/** Metric families a /metrics page declares (`# TYPE name kind`), samples or not. */
function familiesIn(page: string): string[] {
  return [...page.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
}

describe("deploy/: Prometheus and Grafana", () => {
  const rules = parse(readFileSync(resolve(DEPLOY, "alerts.yml"), "utf8")) as RuleFile;
  const alerts = rules.groups.flatMap((g) => g.rules);
  const dashboard = JSON.parse(readFileSync(resolve(DEPLOY, "grafana/dashboards/zeroloss.json"), "utf8")) as {
    uid: string;
    panels: { title: string; type: string; targets?: { expr: string }[] }[];
  };

  it("alert rules pass promtool check rules and promtool's rule unit tests", () => {
    const check = promtool(["check", "rules", "deploy/alerts.yml"]);
    expect(check.code, check.out).toBe(0);
    expect(check.out).toContain(`SUCCESS: ${alerts.length} rules found`);
    const names = alerts.map((a) => a.alert);
    for (const wanted of ["ZerolossWindowMismatch", "ZerolossWindowBehindTooLong", "ZerolossSlotAheadOfCheckpoint", "ZerolossCounterBehind", "ZerolossSlotLagHigh", "ZerolossConsumerLagHigh", "ZerolossChecksumMismatch", "ZerolossProducerStalled"]) {
      expect(names).toContain(wanted);
    }
    const unit = promtool(["test", "rules", "deploy/alerts.test.yml"]);
    expect(unit.code, unit.out).toBe(0);
    // every alert has at least one case where it must fire
    const tests = readFileSync(resolve(DEPLOY, "alerts.test.yml"), "utf8");
    for (const name of names) expect(tests, `a firing case for ${name}`).toMatch(new RegExp(`alertname: ${name}\\n\\s+exp_alerts: \\[\\{`));
  });

  it("the scrape config loads the rules and targets the services' default ports; compose mounts both", () => {
    const check = promtool(["check", "config", "deploy/prometheus.yml"]);
    expect(check.code, check.out).toBe(0);
    expect(check.out).toContain("SUCCESS: 1 rule files found");

    const prom = parse(readFileSync(resolve(DEPLOY, "prometheus.yml"), "utf8")) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
    const defaults = parseConfig(
      "source: { url: postgres://h/s }\ntarget: { url: postgres://h/t }\nkafka: { brokers: ['h:9092'] }\n",
      "minimal zeroloss.yaml",
    );
    const targets = Object.fromEntries(prom.scrape_configs.map((s) => [s.job_name, s.static_configs.flatMap((c) => c.targets)]));
    expect(targets).toEqual({
      "zeroloss-producer": [`producer:${defaults.producer.http.port}`],
      "zeroloss-consumer": [`consumer:${defaults.consumer.http.port}`],
      "zeroloss-counter": [`counter:${defaults.counter.http.port}`],
      "zeroloss-verifier": [`verifier:${defaults.verify.http.port}`],
    });

    const compose = parse(readFileSync(resolve(ROOT, "docker-compose.yml"), "utf8")) as { services: Record<string, { volumes?: string[] }> };
    const mounts = Object.values(compose.services).flatMap((s) => s.volumes ?? []).filter((v) => v.startsWith("./"));
    for (const m of mounts) expect(existsSync(resolve(ROOT, m.split(":")[0]!)), `compose mounts ${m}`).toBe(true);
    expect(compose.services["prometheus"]?.volumes).toEqual(
      expect.arrayContaining(["./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro", "./deploy/alerts.yml:/etc/prometheus/alerts.yml:ro"]),
    );
    expect(compose.services["grafana"]?.volumes).toEqual(expect.arrayContaining(["./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro"]));
  });

  describe("against running services", () => {
    let f: CounterFixture;
    let src: pg.Client;
    let producer: RunningProducer;
    let consumer: RunningProducer;
    let counter: RunningCounter;
    let verifier: RunningProducer;
    let verifierPort = 0;
    const pages = new Map<string, string>();

    beforeAll(async () => {
      // One record per snapshot row: the windows must close (source.snapshot.bulk).
      f = await counterFixture(inject("stack"), "deploy", { source: { snapshot: { bulk: false } }, tallies: { windowSize: 50 } });
      src = await sourceClient(f);
      await src.query(`CREATE TABLE items (id int PRIMARY KEY, v text)`);
      await src.query(`INSERT INTO items SELECT i, 'v' || i FROM generate_series(1, 120) i`);
      producer = await f.start();
      consumer = await f.startConsumer();
      counter = await f.startCounter();
      await waitForEqual(f, src, TABLES, [producer, consumer]);
      await waitForSummary(counter, "a balanced ledger", (s) => s.ok && s.totals.applied === 120 && s.windows.behind === 0);
      verifierPort = await freePort();
      verifier = startService(VERIFIER_MAIN, "ZEROLOSS_VERIFY_HTTP_PORT", f.configFile, ["--continuous"], {
        ZEROLOSS_VERIFY_HTTP_PORT: String(verifierPort),
        ZEROLOSS_VERIFY_INTERVAL_SECONDS: "1",
        ZEROLOSS_VERIFY_QUIET_MS: "300",
      });
      await pollUntil(async () => ((await verifier.metric("zeroloss_verifier_table_equal", { table: "public.items" })) === 1 ? true : undefined), {
        timeoutMs: 60_000,
        what: `the verifier watchdog to find public.items equal (its output: ${verifier.output().slice(-2000)})`,
      });
      for (const [name, svc] of [["producer", producer], ["consumer", consumer], ["counter", counter], ["verifier", verifier]] as const) {
        const page = await svc.scrape();
        if (page === null) throw new Error(`the ${name} is not serving /metrics`);
        pages.set(name, page);
      }
    });

    afterAll(async () => {
      await verifier?.stop();
      await src?.end();
      await f?.close();
    });

    it.each([
      ["producer", "zeroloss_producer_"],
      ["consumer", "zeroloss_consumer_"],
      ["counter", "zeroloss_ledger_"],
      ["verifier", "zeroloss_verifier_"],
    ])("the %s's /metrics passes promtool check metrics", (name, prefix) => {
      const page = pages.get(name)!;
      expect(familiesIn(page).some((m) => m.startsWith(prefix))).toBe(true);
      const lint = promtool(["check", "metrics"], page);
      expect(lint.out.trim(), `promtool check metrics on the ${name}`).toBe("");
      expect(lint.code).toBe(0);
    });

    it("every metric the alert rules and the Grafana dashboard read is served", () => {
      const served = new Set([...pages.values()].flatMap(familiesIn));
      const read = new Map<string, string>();
      for (const a of alerts) for (const m of metricsIn(a.expr)) read.set(m, `alert ${a.alert}`);
      const queried = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => [p.title, t.expr] as const));
      expect(queried.length).toBeGreaterThan(10);
      for (const [title, expr] of queried) for (const m of metricsIn(expr)) read.set(m, `dashboard panel "${title}"`);
      const missing = [...read].filter(([m]) => !served.has(m)).map(([m, where]) => `${m} (${where})`);
      expect(missing).toEqual([]);
      expect(read.size).toBeGreaterThan(15);
    });

    it("the verifier watchdog reports drift it finds in its metrics and at /api/last", async () => {
      await f.target.query("UPDATE items SET v = 'damaged' WHERE id = 77");
      await pollUntil(async () => ((await verifier.metric("zeroloss_verifier_drift_rows", { table: "public.items" })) === 1 ? true : undefined), {
        timeoutMs: 60_000,
        what: "the watchdog to count the damaged row",
      });
      expect(await verifier.metric("zeroloss_verifier_table_equal", { table: "public.items" })).toBe(0);
      expect(await verifier.metric("zeroloss_verifier_rows_compared_total", { table: "public.items" })).toBeGreaterThanOrEqual(240);
      expect(await verifier.metric("zeroloss_verifier_runs_total", { result: "drift" })).toBeGreaterThanOrEqual(1);
      const last = (await (await fetch(`http://127.0.0.1:${verifierPort}/api/last`)).json()) as { result: string; tables: { rows: { key: Record<string, string>; columns: { column: string }[] }[] }[] };
      expect(last.result).toBe("drift");
      expect(last.tables[0]?.rows[0]).toMatchObject({ key: { id: "77" }, columns: [{ column: "v", source: "v77", target: "damaged" }] });
      expect((await verifier.health())?.status).toBe(200);
    });
  });
});
