// `npx zeroloss consumer &`, then `kill <that pid>`: npm ends, and the `sh -c` it runs does
// not pass the signal on. The CLI notices npm is gone and stops the service; before, the
// CLI and the consumer were left running, orphaned (a newcomer's report).
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { freePort, isListening, pollUntil } from "@zeroloss/devstack";

const ROOT = resolve(import.meta.dirname, "../..");

describe("a service started with npx", () => {
  it("stops when npx is killed, instead of running on orphaned", { timeout: 90_000 }, async () => {
    const port = await freePort();
    const config = join(mkdtempSync(join(tmpdir(), "zeroloss-npx-")), "zeroloss.yaml");
    // Nothing to reach: the consumer retries and serves /healthz meanwhile, which is all this needs.
    writeFileSync(
      config,
      stringify({
        source: { url: "postgres://nobody@127.0.0.1:1/none" },
        target: { url: "postgres://nobody@127.0.0.1:1/none" },
        kafka: { brokers: ["127.0.0.1:1"] },
        consumer: { http: { port, host: "127.0.0.1" } },
      }),
    );
    const npx = spawn("npx", ["--no-install", "zeroloss", "consumer", "--config", config], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: process.env });
    let out = "";
    npx.stdout.on("data", (d: Buffer) => (out += d.toString()));
    npx.stderr.on("data", (d: Buffer) => (out += d.toString()));
    await pollUntil(async () => ((await isListening(port)) ? true : undefined), {
      timeoutMs: 60_000,
      what: "the consumer started through npx to serve /healthz",
      abortIf: () => {
        if (npx.exitCode !== null) throw new Error(`npx exited ${npx.exitCode}:\n${out}`);
      },
    });
    npx.kill("SIGTERM");
    await pollUntil(async () => ((await isListening(port)) ? undefined : true), { timeoutMs: 30_000, what: "the consumer to stop once npx is gone" });
    expect(await isListening(port)).toBe(false);
  });
});
