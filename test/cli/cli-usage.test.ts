// The `zeroloss` command's public shape: help on every command, unknown flags and bad
// values are usage errors (exit 2), never silently ignored.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

export function zeroloss(args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 30_000) {
  const result = spawnSync(process.execPath, ["packages/cli/bin/zeroloss.js", ...args], { encoding: "utf8", env, timeout: timeoutMs });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("zeroloss CLI usage", () => {
  it.each([[[]], [["dev"]], [["dev", "up"]], [["dev", "status"]], [["dev", "down"]]])("prints help for %j", (command) => {
    const r = zeroloss([...command, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: zeroloss/m);
  });

  it("documents every dev up flag", () => {
    const r = zeroloss(["dev", "up", "--help"]);
    for (const flag of ["--brokers <n>", "--detach", "--json", "--config-out <file>"]) expect(r.stdout).toContain(flag);
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
