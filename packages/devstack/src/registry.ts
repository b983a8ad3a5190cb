// A Confluent-compatible schema registry for the dev stack and the tests: Apicurio Registry,
// whose runnable distribution is on Maven Central, serving the Confluent API under
// /apis/ccompat/v7. Storage is in memory: every start begins empty, like a fresh test
// database. Karapace is not on PyPI and Confluent's registry is not on Maven Central, so
// neither can be installed from the registries a fresh machine reaches.
//
// 3.0.9 is pinned: later 3.x releases are built for Java 21, and Debian 12 ships Java 17.
import { join } from "node:path";
import type { Logger } from "pino";
import { pollUntil } from "@zeroloss/errors";
import { fillOnce } from "./cache-fill.js";
import { findJava, findMaven } from "./prereqs.js";
import { freePort, LOOPBACK } from "./ports.js";
import { runTool } from "./run-tool.js";
import { cacheDir, type Env } from "./paths.js";
import type { Instance, ManagedProcess } from "./processes.js";

export const REGISTRY_VERSION = "3.0.9";
const ARTIFACT = `io.apicurio:apicurio-registry-app:${REGISTRY_VERSION}:tar.gz:all`;
const RUNNER = `apicurio-registry-app-${REGISTRY_VERSION}-runner.jar`;

/** The Confluent-compatible API's path on an Apicurio server. */
export const CONFLUENT_API_PATH = "/apis/ccompat/v7";

export interface RegistryHandle {
  /** The Confluent-compatible base URL, as `kafka.registry.url` and clients want it. */
  readonly url: string;
  readonly version: string;
  readonly process: ManagedProcess;
}

/** Downloads and unpacks the registry on first use (about 110 MB); later calls return at once. */
export async function ensureRegistryRuntime(env: Env, log: Logger): Promise<string> {
  const home = join(cacheDir(env), `apicurio-registry-${REGISTRY_VERSION}`);
  await fillOnce(home, RUNNER, async (tmp) => {
    log.info({ version: REGISTRY_VERSION, cache: home }, "downloading Apicurio Registry from Maven Central (first run only)");
    await runTool(
      findMaven(),
      ["-B", "-q", `-Dmaven.repo.local=${join(cacheDir(env), "m2")}`, "dependency:copy", `-Dartifact=${ARTIFACT}`, `-DoutputDirectory=${tmp}`],
      {
        what: `downloading ${ARTIFACT} with Maven (Maven Central must be reachable)`,
        cwd: tmp,
        failure: "DOWNLOAD_FAILED",
        summarize: (text) => text.split("\n").filter((l) => l.includes("[ERROR]")).slice(0, 10).join("\n") || text.slice(-2000),
      },
    );
    const archive = join(tmp, `apicurio-registry-app-${REGISTRY_VERSION}-all.tar.gz`);
    await runTool("tar", ["xzf", archive, "-C", tmp], { what: `unpacking ${archive}` });
    await runTool("rm", ["-f", archive], { what: `removing ${archive}` });
  });
  return join(home, RUNNER);
}

export async function startRegistry(instance: Instance, options: { env: Env; log: Logger; readyTimeoutMs?: number }): Promise<RegistryHandle> {
  const log = options.log.child({ service: "registry" });
  const java = findJava(options.env);
  const runner = await ensureRegistryRuntime(options.env, log);
  const port = await freePort();
  const dir = await instance.subdir("registry");
  const proc = await instance.spawn({
    name: "registry",
    command: java,
    // The folder in its command line marks the process as the instance's, for `dev down` and the orphan sweep.
    args: ["-Xmx256m", "-XX:+UseSerialGC", "-Djava.awt.headless=true", `-Dzeroloss.instance=${dir}`, "-jar", runner],
    cwd: dir,
    env: { QUARKUS_HTTP_PORT: String(port), QUARKUS_HTTP_HOST: LOOPBACK, QUARKUS_HTTP_ACCESS_LOG_ENABLED: "false" },
    stopSignal: "SIGTERM",
    logFile: join(dir, "registry.log"),
  });
  const base = `http://${LOOPBACK}:${port}`;
  await pollUntil(
    async () => {
      try {
        return (await fetch(`${base}/health/ready`, { signal: AbortSignal.timeout(2_000) })).ok ? true : undefined;
      } catch {
        return undefined; // not listening yet
      }
    },
    { timeoutMs: options.readyTimeoutMs ?? 120_000, intervalMs: 500, what: `the schema registry at ${base}`, abortIf: () => proc.assertRunning() },
  );
  const url = `${base}${CONFLUENT_API_PATH}`;
  log.info({ url, pid: proc.pid }, "ready");
  return { url, version: REGISTRY_VERSION, process: proc };
}
