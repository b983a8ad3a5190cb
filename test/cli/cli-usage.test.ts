// The `zeroloss` command's public shape: help on every command, unknown flags and bad
// values are usage errors (exit 2), never silently ignored.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

export function zeroloss(args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 30_000) {
  const result = spawnSync(process.execPath, ["packages/cli/bin/zeroloss.js", ...args], { encoding: "utf8", env, timeout: timeoutMs });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("zeroloss CLI usage", () => {
  it.each([[[]], [["dev"]], [["dev", "up"]], [["dev", "status"]], [["dev", "down"]], [["dev", "kafka"]], [["producer"]], [["slot"]], [["slot", "status"]], [["slot", "drop"]], [["sequences"]], [["sequences", "sync"]], [["check"]], [["certificate"]], [["certificate", "keygen"]], [["certificate", "issue"]], [["certificate", "verify"]]])("prints help for %j", (command) => {
    const r = zeroloss([...command, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: zeroloss/m);
  });

  it("documents every dev up flag", () => {
    const r = zeroloss(["dev", "up", "--help"]);
    for (const flag of ["--brokers <n>", "--detach", "--json", "--registry", "--config-out <file>"]) expect(r.stdout).toContain(flag);
  });

  it.each([
    [["dev", "up", "--bogus"], /unknown option '--bogus'/],
    [["dev", "status", "--verbose"], /unknown option '--verbose'/],
    [["dev", "up", "--brokers", "2"], /must be 1 or 3/],
    [["dev", "down", "extra"], /too many arguments/],
    [["nonsense"], /unknown command 'nonsense'/],
  ])("rejects %j with exit 2", (args, message) => {
    const r = zeroloss(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

describe("zeroloss dev kafka", () => {
  it("lists the tools without one, and refuses an unknown one with the list (exit 2)", () => {
    const list = zeroloss(["dev", "kafka"]);
    expect(list.code).toBe(0);
    for (const tool of ["consumer-groups", "topics", "configs"]) expect(list.stdout).toMatch(new RegExp(`^  ${tool} +\\S`, "m"));
    const unknown = zeroloss(["dev", "kafka", "consumer-group", "--list"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("no Kafka tool named 'consumer-group'");
    expect(unknown.stderr).toMatch(/^  consumer-groups +\S/m);
  });

  it("without a detached stack and without --bootstrap-server, says so before starting Java", () => {
    const r = zeroloss(["dev", "kafka", "topics", "--list"], { ...process.env, ZEROLOSS_RUN_DIR: mkdtempSync(join(tmpdir(), "zeroloss-no-stack-")) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("STACK_NOT_RUNNING");
    expect(r.stderr).toContain("zeroloss dev up --detach");
  });
});

describe("zeroloss dev up prerequisites", () => {
  it("names every missing tool and its install command before starting anything", () => {
    const env: NodeJS.ProcessEnv = { ...process.env, ZEROLOSS_DEVSTACK: "local", ZEROLOSS_PG_BINDIR: "/nonexistent/bin", JAVA_HOME: "/nonexistent/jdk" };
    for (const v of ["ZEROLOSS_SOURCE_URL", "ZEROLOSS_TARGET_URL", "ZEROLOSS_KAFKA_BROKERS"]) delete env[v];
    const r = zeroloss(["dev", "up", "--json"], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("PREREQUISITE_MISSING");
    expect(r.stderr).toContain("ZEROLOSS_PG_BINDIR=/nonexistent/bin (install: apt-get install postgresql)");
    expect(r.stderr).toContain("Java 17+ runtime (install: apt-get install openjdk-17-jre-headless)");
  });

  it("refuses a half-set external stack, naming the missing variables", () => {
    const r = zeroloss(["dev", "up"], { ...process.env, ZEROLOSS_SOURCE_URL: "postgres://x@127.0.0.1:1/x", ZEROLOSS_TARGET_URL: "", ZEROLOSS_KAFKA_BROKERS: "" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ZEROLOSS_SOURCE_URL set but ZEROLOSS_TARGET_URL, ZEROLOSS_KAFKA_BROKERS not/);
  });
});
