// The pipeline over a secure stack (`zeroloss dev up --secure`): PostgreSQL over TLS only
// (verify-full, a client certificate, the password from a file) and Kafka over SASL_SSL
// (SCRAM-SHA-512, the password from a file). The producer, consumer and counter run at debug
// level; no secret may appear in anything they print or serve. Then the failures an operator
// meets first: a wrong Kafka password, a CA the broker's certificate does not chain to, a
// server name the certificate does not carry, PostgreSQL without a client certificate.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { configForStack, endpointsJson } from "../../packages/cli/src/commands/dev.js";
import { freePort, makeDevCertificates, pollUntil, startDevStack, writeDetachedState, type DevStack } from "@zeroloss/devstack";
import { createKafka, kafkaError } from "@zeroloss/kafka";
import { silentLogger } from "@zeroloss/observability";
import { connect } from "@zeroloss/pg";
import { CONSUMER_MAIN } from "../consumer/harness.js";
import { CLI, COUNTER_MAIN } from "../counter/harness.js";
import { PRODUCER_MAIN, startService, type RunningProducer } from "../producer/harness.js";
import { runVerify } from "../verifier/harness.js";

const ROWS = 2_000;

describe("a secure stack: TLS-only PostgreSQL, SASL_SSL Kafka", () => {
  let stack: DevStack;
  let dir: string;
  let configFile: string;
  let config: Record<string, Record<string, unknown>>;
  let secrets: string[];
  let httpToken: string;
  const running: RunningProducer[] = [];

  beforeAll(async () => {
    stack = await startDevStack({ secure: true, env: { ...process.env, ZEROLOSS_DEVSTACK: "local" }, log: silentLogger() });
    const security = stack.security!;
    secrets = [readFileSync(security.kafkaPasswordFile, "utf8").trim(), readFileSync(security.postgresPasswordFile, "utf8").trim()];
    dir = mkdtempSync(join(tmpdir(), "zeroloss-secure-"));
    config = parse(configForStack(stack, 1)) as Record<string, Record<string, unknown>>;
    config["kafka"] = { ...config["kafka"], partitions: 3 };
    config["log"] = { level: "debug" };
    // The counter's HTTP face asks for a bearer token (every request but /healthz).
    httpToken = randomBytes(20).toString("hex");
    writeFileSync(join(dir, "http-token"), `${httpToken}\n`, { mode: 0o600 });
    config["counter"] = { ...config["counter"], http: { port: 0, host: "127.0.0.1", tokenFile: join(dir, "http-token") } };
    configFile = join(dir, "zeroloss.yaml");
    writeFileSync(configFile, stringify(config));
    // Every test's producer finds a table (each may run alone).
    const source = await connect(stack.source, { applicationName: "test-secure-setup" });
    await source.query("CREATE TABLE payments (id bigint PRIMARY KEY, amount numeric(12,2) NOT NULL, memo text)");
    await source.end();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop().catch(() => undefined)));
    await stack?.stop();
  });

  const start = async (main: string, portVariable: string, file = configFile) => {
    const s = startService(main, portVariable, file, [], { [portVariable]: String(await freePort()) });
    running.push(s);
    return s;
  };

  it("snapshots, streams, counts, replays and verifies over TLS and SASL_SSL; no secret in any output, page or metric", { timeout: 240_000 }, async () => {
    expect(new URL(String(config["source"]?.["url"])).password, "the written config keeps the password in a file").toBe("");
    expect(endpointsJson(stack)).not.toContain(secrets[1]!);
    const source = new pg.Client({ connectionString: stack.source });
    await source.connect();
    try {
      expect((await source.query<{ ssl: boolean }>("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).rows[0]?.ssl).toBe(true);
      await source.query(`INSERT INTO payments SELECT i, i * 1.01, 'p' || i FROM generate_series(1, ${ROWS}) i`);

      const producer = await start(PRODUCER_MAIN, "ZEROLOSS_PRODUCER_HTTP_PORT");
      const consumer = await start(CONSUMER_MAIN, "ZEROLOSS_CONSUMER_HTTP_PORT");
      const counter = await start(COUNTER_MAIN, "ZEROLOSS_COUNTER_HTTP_PORT");
      await pollUntil(async () => ((await producer.health())?.body["status"] === "streaming" ? true : undefined), { timeoutMs: 90_000, what: "the producer to stream over SASL_SSL" });
      await source.query("UPDATE payments SET amount = amount + 1 WHERE id % 7 = 0");
      await source.query("DELETE FROM payments WHERE id % 11 = 0");

      const target = new pg.Client({ connectionString: stack.target });
      await target.connect();
      try {
        const want = await source.query<{ n: string; s: string }>("SELECT count(*)::text AS n, sum(amount)::text AS s FROM payments");
        await pollUntil(
          async () => {
            const got = await target.query<{ n: string; s: string }>("SELECT count(*)::text AS n, sum(amount)::text AS s FROM payments").catch(() => null);
            return got?.rows[0]?.n === want.rows[0]?.n && got?.rows[0]?.s === want.rows[0]?.s ? true : undefined;
          },
          { timeoutMs: 120_000, what: "the target to equal the source", abortIf: () => running.forEach((s) => { if (s.proc.exitCode !== null) throw new Error(`a service exited:\n${s.output().slice(-3000)}`); }) },
        );
      } finally {
        await target.end();
      }
      const auth = { authorization: `Bearer ${httpToken}` };
      const summary = await pollUntil(
        async () => {
          const res = await fetch(`http://127.0.0.1:${counter.port}/api/summary`, { headers: auth }).catch(() => null);
          const s = res?.ok === true ? ((await res.json()) as { ok: boolean; totals: { emitted: number; transferred: number; applied: number }; windows: { behind: number } }) : null;
          return s !== null && s.ok && s.totals.emitted > 0 && s.totals.transferred === s.totals.emitted && s.totals.applied === s.totals.emitted && s.windows.behind === 0 ? s : undefined;
        },
        { timeoutMs: 90_000, what: "the counter to see every record emitted, in Kafka and applied" },
      );
      expect(summary.ok).toBe(true);
      // Without the token: 401 on data, /healthz open for probes; `zeroloss status` sends it from the config.
      for (const path of ["/metrics", "/api/summary"]) expect((await fetch(`http://127.0.0.1:${counter.port}${path}`)).status, path).toBe(401);
      expect((await fetch(`http://127.0.0.1:${counter.port}/api/summary`, { headers: { authorization: "Bearer wrong-token-of-40-characters-0000000000" } })).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${counter.port}/healthz`)).status).toBe(200);
      const statusFile = join(dir, "status.yaml");
      writeFileSync(statusFile, stringify({ ...config, counter: { ...config["counter"], http: { port: counter.port, host: "127.0.0.1", tokenFile: join(dir, "http-token") } } }));
      const status = spawnSync(process.execPath, [CLI, "status", "--config", statusFile], { encoding: "utf8" });
      expect(status.status, status.stdout + status.stderr).toBe(0);
      expect(status.stdout).toMatch(/^OK/);
      // A replay over SASL_SSL: the group's offsets reset to the start, every record read again and found applied.
      await consumer.stop();
      const replay = spawnSync(process.execPath, [CLI, "replay", "--config", configFile, "--to-earliest", "--json"], { encoding: "utf8" });
      expect(replay.status, replay.stdout + replay.stderr).toBe(0);
      const again = await start(CONSUMER_MAIN, "ZEROLOSS_CONSUMER_HTTP_PORT");
      await pollUntil(
        async () => {
          const res = await fetch(`http://127.0.0.1:${counter.port}/api/summary`, { headers: auth }).catch(() => null);
          const s = res?.ok === true ? ((await res.json()) as { ok: boolean; totals: { emitted: number; replayed: number } }) : null;
          return s !== null && s.ok && s.totals.replayed >= summary.totals.emitted ? true : undefined;
        },
        { timeoutMs: 90_000, what: "the counter to see every record replayed" },
      );
      const verify = await runVerify(configFile, ["--json"]);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);

      // Everything the services printed (at debug level) and serve: no secret, in any form.
      const served: string[] = [];
      for (const s of [producer, again]) served.push((await s.scrape()) ?? "");
      for (const s of [producer, again, counter]) served.push(JSON.stringify((await s.health())?.body ?? {}));
      served.push(await (await fetch(`http://127.0.0.1:${counter.port}/metrics`, { headers: auth })).text());
      for (const path of ["/api/summary", "/api/windows", "/api/transactions"]) served.push(await (await fetch(`http://127.0.0.1:${counter.port}${path}`, { headers: auth })).text());
      const printed = [...running.map((s) => s.output()), verify.stdout, verify.stderr, status.stdout, status.stderr, replay.stdout, replay.stderr, ...served].join("\n");
      expect(printed.length).toBeGreaterThan(10_000); // debug logs were written
      for (const secret of [...secrets, httpToken]) {
        for (const form of [secret, encodeURIComponent(secret), Buffer.from(secret).toString("base64")]) expect(printed.includes(form), `a secret appeared in the output`).toBe(false);
      }
    } finally {
      await source.end();
    }
  });

  it("a wrong Kafka password: the producer stops with the SASL failure, once, instead of retrying forever", { timeout: 90_000 }, async () => {
    const wrong = join(dir, "wrong-password");
    writeFileSync(wrong, "not-the-password\n");
    const file = join(dir, "wrong-password.yaml");
    writeFileSync(file, stringify({ ...config, kafka: { ...config["kafka"], sasl: { ...(config["kafka"]?.["sasl"] as object), passwordFile: wrong } }, log: { level: "warn" } }));
    const producer = await start(PRODUCER_MAIN, "ZEROLOSS_PRODUCER_HTTP_PORT", file);
    expect(await producer.exitWithin(60_000)).toBe(1);
    expect(producer.output()).toContain("KAFKA_SASL_AUTHENTICATION_ERROR");
    expect(producer.output()).not.toContain("not-the-password");
  });

  it("an untrusted CA, a wrong server name, no client certificate: KAFKA_TLS_FAILED naming the cause, not retriable", { timeout: 60_000 }, async () => {
    const other = await makeDevCertificates(mkdtempSync(join(tmpdir(), "zeroloss-other-ca-")));
    const kafka = config["kafka"] as { brokers: string[]; sasl: { mechanism: "scram-sha-512"; username: string; passwordFile: string } };
    const sasl = { mechanism: kafka.sasl.mechanism, username: kafka.sasl.username, password: secrets[0]! };
    const client = { certFile: stack.security!.clientCertFile, keyFile: stack.security!.clientKeyFile };
    const attempt = async (tls: { caFile: string; serverName?: string; certFile?: string; keyFile?: string }) => {
      const admin = createKafka({ connection: { brokers: kafka.brokers, tls: { ...tls, verifyServerName: true }, sasl }, clientId: "test-tls", log: silentLogger(), retries: 0 }).admin();
      try {
        await admin.connect();
        await admin.listTopics();
        return null;
      } catch (err) {
        return kafkaError(err, "connecting");
      } finally {
        await admin.disconnect();
      }
    };
    const untrusted = await attempt({ caFile: other.caFile, ...client });
    expect(untrusted).toMatchObject({ code: "KAFKA_TLS_FAILED", retriable: false });
    expect(untrusted?.message).toContain("not signed by a CA this client trusts");
    const misnamed = await attempt({ caFile: stack.security!.caFile, serverName: "broker.example.com", ...client });
    expect(misnamed).toMatchObject({ code: "KAFKA_TLS_FAILED", retriable: false });
    expect(misnamed?.message).toContain("does not name the host");
    // The listener wants a client certificate (mutual TLS) as well as SASL.
    const noCert = await attempt({ caFile: stack.security!.caFile });
    expect(noCert).toMatchObject({ code: "KAFKA_TLS_FAILED", retriable: false });
    expect(noCert?.message).toContain("wanted one and got none");
    expect(await attempt({ caFile: stack.security!.caFile, ...client })).toBeNull();
  });

  it("OAUTHBEARER: the token is read from kafka.sasl.tokenFile at authentication", { timeout: 60_000 }, async () => {
    const kafka = config["kafka"] as { brokers: string[] };
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const now = Math.floor(Date.now() / 1000);
    const tokenFile = join(dir, "kafka-token");
    // The dev listener's validator takes unsigned tokens (alg none) at their word.
    writeFileSync(tokenFile, `${b64({ alg: "none" })}.${b64({ sub: "zeroloss", iat: now, exp: now + 3600 })}.\n`);
    const admin = createKafka({
      connection: {
        brokers: kafka.brokers,
        tls: { caFile: stack.security!.caFile, certFile: stack.security!.clientCertFile, keyFile: stack.security!.clientKeyFile, verifyServerName: true },
        sasl: { mechanism: "oauthbearer", tokenFile },
      },
      clientId: "test-oauth",
      log: silentLogger(),
    }).admin();
    try {
      await admin.connect();
      expect(await admin.listTopics()).toEqual(expect.arrayContaining([expect.stringMatching(/^zeroloss\./)]));
    } finally {
      await admin.disconnect();
    }
  });

  it("zeroloss dev kafka: Kafka's own tools reach the SASL_SSL listener through the client settings it writes", { timeout: 60_000 }, async () => {
    // The stack as `dev up --secure --detach` records it, in a run folder of its own.
    const runDir = mkdtempSync(join(tmpdir(), "zeroloss-secure-run-"));
    const env = { ...process.env, ZEROLOSS_RUN_DIR: runDir };
    await writeDetachedState(env, stack);
    const tool = (...args: string[]) => {
      const r = spawnSync(process.execPath, [CLI, "dev", "kafka", ...args], { encoding: "utf8", env, timeout: 60_000 });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };
    const created = tool("topics", "--create", "--topic", "zl_secure_tool", "--partitions", "2");
    const listed = tool("topics", "--list");
    rmSync(runDir, { recursive: true, force: true });
    expect(created.err).toBe("");
    expect(created.code).toBe(0);
    expect(created.out).toContain("Created topic zl_secure_tool.");
    expect(listed.code).toBe(0);
    expect(listed.out.split("\n")).toContain("zl_secure_tool");
    for (const secret of secrets) expect(`${created.out}${created.err}${listed.out}${listed.err}`).not.toContain(secret);
  });

  it("PostgreSQL without a client certificate, and with an untrusted CA: one clear error each", { timeout: 60_000 }, async () => {
    const other = await makeDevCertificates(mkdtempSync(join(tmpdir(), "zeroloss-other-ca-")));
    const url = new URL(stack.source);
    const noCert = new URL(url);
    noCert.searchParams.delete("sslcert");
    noCert.searchParams.delete("sslkey");
    await expect(connect(noCert.toString(), { applicationName: "test-no-cert" })).rejects.toMatchObject({ code: "PG_AUTH_FAILED", message: expect.stringMatching(/certificate/) });
    const untrusted = new URL(url);
    untrusted.searchParams.set("sslrootcert", other.caFile);
    await expect(connect(untrusted.toString(), { applicationName: "test-untrusted" })).rejects.toMatchObject({
      code: "PG_TLS_FAILED",
      retriable: false,
      message: expect.stringContaining("not signed by a CA this client trusts"),
    });
    const plaintext = new URL(url);
    plaintext.search = "?sslmode=disable";
    await expect(connect(plaintext.toString(), { applicationName: "test-plaintext" })).rejects.toMatchObject({ code: "PG_AUTH_FAILED", message: expect.stringContaining("no encryption") });
  });
});
