// Headless Chromium for the tests that look at a page as an operator would: Debian's
// `chromium` (scripts/bootstrap --test-tools installs it) driven by playwright-core, which
// brings no browser of its own. ZEROLOSS_CHROMIUM names another binary.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { chromium, type Browser } from "playwright-core";

/** Where tests keep what a person may want to look at afterwards (screenshots). */
export const ARTIFACTS_DIR = resolve(import.meta.dirname, "../../.zeroloss/artifacts");

function chromiumPath(): string {
  const named = process.env["ZEROLOSS_CHROMIUM"];
  if (named !== undefined && named !== "") return named;
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
    if (found.status === 0 && found.stdout.trim() !== "") return found.stdout.trim();
  }
  throw new Error("no Chromium found for the dashboard test: run scripts/bootstrap --test-tools (Debian: apt-get install chromium), or set ZEROLOSS_CHROMIUM");
}

export async function launchBrowser(): Promise<Browser> {
  // --no-sandbox: CI and these machines run the tests as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return resolve(ARTIFACTS_DIR, name);
}
