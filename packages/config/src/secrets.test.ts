import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeError, forgetSecret, keepSecret, redact, REDACTED } from "@zeroloss/errors";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "zl-secrets-"));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const base = (extra: string) => `
source: { url: "postgres://rep@127.0.0.1:5432/src", passwordFile: ${JSON.stringify(file("src.pw", "s0urce-Pa$$word\n"))} }
target: { url: "postgres://app:t4rget-inline@127.0.0.1:5433/tgt" }
kafka:
  brokers: ["127.0.0.1:9093"]
${extra}
`;

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error("expected a ConfigError");
}

describe("secrets in the configuration", () => {
  it("reads passwordFile keys into the connections, and hides every secret from what is printed", () => {
    const cfg = parseConfig(
      base(`  sasl: { mechanism: scram-sha-512, username: zeroloss, passwordFile: ${JSON.stringify(file("kafka.pw", "k4fka-secret\n"))} }
  tls: { caFile: ${JSON.stringify(file("ca.pem", "-----BEGIN CERTIFICATE-----\n"))} }
  registry: { url: "https://registry.example:8081", username: key, password: "r3gistry-secret" }`),
      "test.yaml",
    );
    expect(new URL(cfg.source.url).password).toBe(encodeURIComponent("s0urce-Pa$$word"));
    expect(cfg.counter.url).toBe(cfg.target.url);
    expect(cfg.kafka.sasl).toMatchObject({ mechanism: "scram-sha-512", username: "zeroloss", password: "k4fka-secret" });
    const printed = `${cfg.source.url} ${cfg.target.url} ${JSON.stringify(cfg)}`;
    for (const secret of ["s0urce-Pa$$word", "t4rget-inline", "k4fka-secret", "r3gistry-secret"]) expect(printed).toContain(secret.slice(0, 4));
    const shown = redact(printed);
    for (const secret of ["s0urce-Pa$$word", encodeURIComponent("s0urce-Pa$$word"), "t4rget-inline", "k4fka-secret", "r3gistry-secret"]) expect(shown).not.toContain(secret);
    expect(shown).toContain(REDACTED);
    expect(describeError(new Error("login failed for k4fka-secret", { cause: new Error("t4rget-inline") }))).toBe(`login failed for ${REDACTED}: caused by: ${REDACTED}`);
  });

  it("takes a Kafka password from the environment (ZEROLOSS_KAFKA_SASL_PASSWORD)", () => {
    const cfg = parseConfig(base(`  sasl: { mechanism: plain, username: zeroloss }`), "test.yaml", { ZEROLOSS_KAFKA_SASL_PASSWORD: "from-the-env" });
    expect(cfg.kafka.sasl?.password).toBe("from-the-env");
    expect(redact("x from-the-env y")).toBe(`x ${REDACTED} y`);
  });

  it("names every problem: an unreadable file, a password twice, a mechanism without its parts", () => {
    const problems = problemsOf(() =>
      parseConfig(
        `
source: { url: "postgres://rep:inline@127.0.0.1:5432/src", passwordFile: ${JSON.stringify(file("other.pw", "x1x1x1"))} }
target: { url: "postgres://app@127.0.0.1:5433/tgt", passwordFile: /nonexistent/zeroloss/target.pw }
kafka:
  brokers: ["127.0.0.1:9093"]
  sasl: { mechanism: scram-sha-256, password: a, passwordFile: b }
  tls: { certFile: c.pem }
`,
        "test.yaml",
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        "kafka.sasl.username: is required with mechanism scram-sha-256",
        "kafka.sasl.password: give exactly one of password and passwordFile with mechanism scram-sha-256",
        "kafka.tls.keyFile: certFile and keyFile go together (mutual TLS)",
      ]),
    );
    // Files are read only once the shape is valid: a second pass names them.
    const files = problemsOf(() =>
      parseConfig(
        `
source: { url: "postgres://rep:inline@127.0.0.1:5432/src", passwordFile: ${JSON.stringify(file("other2.pw", "x1x1x1"))} }
target: { url: "postgres://app@127.0.0.1:5433/tgt", passwordFile: /nonexistent/zeroloss/target.pw }
kafka: { brokers: ["127.0.0.1:9093"], sasl: { mechanism: oauthbearer, tokenFile: /nonexistent/token } }
`,
        "test.yaml",
      ),
    );
    expect(files).toEqual([
      "source.passwordFile: source.url carries a password too; keep one of them",
      "target.passwordFile: cannot read /nonexistent/zeroloss/target.pw: ENOENT",
      "kafka.sasl.tokenFile: cannot read /nonexistent/token: ENOENT",
    ]);
  });

  it("hides a password as written in the URL (a bare %), takes socket-folder URLs as they are, and leaves short or numeric values alone", () => {
    const cfg = parseConfig(
      `
source: { url: "postgres://rep:50%-off-sale@127.0.0.1:5432/src" }
target: { url: "postgres://app@/tgt?host=/var/run/postgresql&password=q-param-secret" }
kafka: { brokers: ["127.0.0.1:9093"] }
`,
      "test.yaml",
    );
    expect(cfg.target.url).toBe("postgres://app@/tgt?host=/var/run/postgresql&password=q-param-secret");
    expect(redact("postgres://rep:50%-off-sale@h and q-param-secret")).toBe(`postgres://rep:${REDACTED}@h and ${REDACTED}`);
    keepSecret("1234567890");
    keepSecret("short");
    expect(redact('{"time":1234567890,"msg":"short"}')).toBe('{"time":1234567890,"msg":"short"}');
  });

  it("forgets a renewed token's predecessor", () => {
    keepSecret("token-one-abcdefgh");
    expect(redact("token-one-abcdefgh")).toBe(REDACTED);
    forgetSecret("token-one-abcdefgh");
    expect(redact("token-one-abcdefgh")).toBe("token-one-abcdefgh");
  });
});
