#!/usr/bin/env node
// Entry point of the `zeroloss` command. zeroloss needs Node.js 22+; when the node that
// started this is older (the machines here ship Node 20), it re-runs itself under the Node
// that scripts/bootstrap installs, instead of failing half-way with a syntax error.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  const bootstrap = join(here, "..", "..", "..", "scripts", "bootstrap");
  const found = existsSync(bootstrap) ? spawnSync("bash", [bootstrap], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }) : null;
  const nodeDir = found && found.status === 0 ? found.stdout.trim().split("\n").pop() : "";
  if (!nodeDir) {
    process.stderr.write(`zeroloss: Node.js 22 or newer is required (this is ${process.version}); run scripts/bootstrap\n`);
    process.exit(2);
  }
  const result = spawnSync(join(nodeDir, "node"), [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(result.status ?? 1);
}

const main = join(here, "..", "dist", "main.js");
if (!existsSync(main)) {
  process.stderr.write("zeroloss: not built yet; run `npm run build` in the repository first\n");
  process.exit(2);
}
const { run } = await import(pathToFileURL(main).href);
process.exitCode = await run(process.argv);
