// `zeroloss certificate keygen | issue | verify`: the zero-loss certificate, a signed document
// that the target's tables hold the source's rows (docs/operations.md, "Certificate"). The
// work is @zeroloss/certificate's, so the cutover can issue one the same way; this module
// reads and writes the files, loads the config and maps the outcome to an exit code:
//   0 proven / valid; 1 a table differs / the certificate is invalid or no longer matches the
//   target; 2 it could not be done (configuration, a file or key, a database connection).
// Exit 1 then always means "the data or the document is not what it should be", never "the
// command could not run".
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InvalidArgumentError } from "commander";
import {
  configFingerprint,
  gatherCertificate,
  loadPrivateKey,
  loadPublicKey,
  publicKeyFingerprint,
  recheckTarget,
  renderHtml,
  signCertificate,
  verifyCertificateText,
  type Certificate,
  type TableDigest,
} from "@zeroloss/certificate";
import { loadConfig } from "@zeroloss/config";
import { zerolossVersion } from "./zeroloss-version.js";
import { isZerolossError, redact, ZerolossError } from "@zeroloss/errors";

const EXIT_OK = 0;
const EXIT_DIFFERS = 1;
const EXIT_COULD_NOT = 2;

/** --tables: comma-separated schema.table patterns, `*` a wildcard, in place of source.tables. */
export function parseTablePatterns(value: string): string[] {
  const patterns = value
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (patterns.length === 0 || patterns.some((p) => !/^[^.\s]+\.[^.\s]+$/.test(p))) {
    throw new InvalidArgumentError("must be schema.table patterns separated by commas (use * as a wildcard), e.g. public.* or billing.payments,public.orders");
  }
  return patterns;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new ZerolossError("CERTIFICATE_UNREADABLE", `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

function writeText(path: string, text: string, what: string, options: { mode?: number; exclusive?: boolean } = {}): void {
  try {
    writeFileSync(path, text, { mode: options.mode ?? 0o644, flag: options.exclusive === true ? "wx" : "w" });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new ZerolossError("CERTIFICATE_KEY_EXISTS", `${path} already exists: zeroloss certificate keygen never overwrites a key`, { details: { path } });
    throw new ZerolossError("CERTIFICATE_UNREADABLE", `cannot write ${what} ${path}: ${code ?? (err as Error).message}`, { cause: err });
  }
}

/** Runs `fn`; a ZerolossError (a config, file, key or database problem) is printed and is exit 2. */
async function orCouldNot(fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (err) {
    if (!isZerolossError(err)) throw err;
    process.stderr.write(redact(`zeroloss: error [${err.code}]: ${err.message}\n`));
    return EXIT_COULD_NOT;
  }
}

const digestText = (d: TableDigest | null) => (d === null ? "missing" : `${d.rows} rows  ${d.hash.slice(0, 16)}…`);

/** A new Ed25519 pair: the private key (0600) and the public key written, neither overwritten; returns the public key. */
export function writeKeyPair(privatePath: string, publicPath: string): KeyObject {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  writeText(privatePath, privateKey.export({ type: "pkcs8", format: "pem" }).toString(), "the private key", { mode: 0o600, exclusive: true });
  writeText(publicPath, publicKey.export({ type: "spki", format: "pem" }).toString(), "the public key", { exclusive: true });
  return publicKey;
}

export interface KeygenOptions {
  readonly outDir: string;
}

/** Writes private.pem (0600) and public.pem into outDir; refuses when either exists. */
export async function certificateKeygenCommand(options: KeygenOptions): Promise<number> {
  return orCouldNot(async () => {
    const privatePath = join(options.outDir, "private.pem");
    const publicPath = join(options.outDir, "public.pem");
    for (const path of [privatePath, publicPath]) {
      // Checked for both before writing either, so a refusal leaves the folder as it was.
      if (existsSync(path)) throw new ZerolossError("CERTIFICATE_KEY_EXISTS", `${path} already exists: zeroloss certificate keygen never overwrites a key`, { details: { path } });
    }
    try {
      mkdirSync(options.outDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new ZerolossError("CERTIFICATE_UNREADABLE", `cannot create ${options.outDir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    const publicKey = writeKeyPair(privatePath, publicPath);
    process.stdout.write(`private key  ${privatePath} (keep it secret)\npublic key   ${publicPath}\nfingerprint  ${publicKeyFingerprint(publicKey)}\n`);
    return EXIT_OK;
  });
}

export interface IssueOptions {
  readonly config?: string;
  readonly privateKey: string;
  readonly out: string;
  readonly html?: string;
  readonly tables?: string[];
}

export async function certificateIssueCommand(options: IssueOptions): Promise<number> {
  return orCouldNot(async () => {
    const config = await loadConfig({ ...(options.config === undefined ? {} : { file: options.config }), env: process.env });
    const keyPem = readText(options.privateKey, "the private key");
    loadPrivateKey(keyPem); // a wrong key is found before any table is read
    const unsigned = await gatherCertificate({
      sourceUrl: config.source.url,
      targetUrl: config.target.url,
      include: options.tables ?? config.source.tables,
      exclude: config.source.exclude,
      zerolossVersion: zerolossVersion(),
      configFingerprint: configFingerprint(config),
      onTable: (side, table, digest) => process.stderr.write(`${side.padEnd(6)}  ${table}  ${digestText(digest)}\n`),
    });
    const cert = signCertificate(unsigned, keyPem);
    writeText(options.out, `${JSON.stringify(cert, null, 2)}\n`, "the certificate");
    if (options.html !== undefined) writeText(options.html, renderHtml(cert), "the HTML page");
    const differing = cert.tables.filter((t) => !t.equal);
    process.stdout.write(
      cert.proven
        ? `proven: all ${cert.tables.length} table(s) equal on source and target\ncertificate  ${options.out}\n`
        : `NOT proven: ${differing.length} of ${cert.tables.length} table(s) differ: ${differing.map((t) => t.table).join(", ")}\ncertificate  ${options.out} (proven: false)\n`,
    );
    if (options.html !== undefined) process.stdout.write(`html         ${options.html}\n`);
    return cert.proven ? EXIT_OK : EXIT_DIFFERS;
  });
}

export interface VerifyOptions {
  readonly publicKey: string;
  readonly recheck: boolean;
  readonly config?: string;
}

export async function certificateVerifyCommand(file: string, options: VerifyOptions): Promise<number> {
  return orCouldNot(async () => {
    if (options.recheck && options.config === undefined) {
      process.stderr.write("zeroloss: error: --recheck needs --config: the target it hashes again is target.url\n");
      return EXIT_COULD_NOT;
    }
    const text = readText(file, "the certificate");
    const keyPem = readText(options.publicKey, "the public key");
    loadPublicKey(keyPem);
    const result = verifyCertificateText(text, keyPem);
    if (!result.ok) {
      process.stdout.write(`INVALID: ${result.reason ?? "unknown reason"}\n`);
      return EXIT_DIFFERS;
    }
    const cert = JSON.parse(text) as Certificate;
    process.stdout.write(
      `valid: signed by the key ${cert.signature.publicKeyFingerprint}, issued ${cert.issuedAt}; ` +
        `${
          cert.proven
            ? cert.cutover === undefined
              ? `it proves all ${cert.tables.length} table(s) equal`
              : `it proves the cutover at fence LSN ${cert.cutover.fence.lsn}: all ${cert.tables.length} table(s) equal, every claim of the cutover held`
            : "it states the data was NOT proven equal (proven: false)"
        }\n`,
    );
    if (!options.recheck) return EXIT_OK;
    const config = await loadConfig({ ...(options.config === undefined ? {} : { file: options.config }), env: process.env });
    const differences = await recheckTarget(config.target.url, cert.tables, (_side, table, digest) => process.stderr.write(`target  ${table}  ${digestText(digest)}\n`));
    if (differences.length === 0) {
      process.stdout.write(`recheck: the target's ${cert.tables.length} table(s) still hash to what was certified\n`);
      return EXIT_OK;
    }
    for (const d of differences) process.stdout.write(`recheck: ${d.table} differs: certified ${digestText(d.certified)}, now ${digestText(d.now)}\n`);
    process.stdout.write(`recheck FAILED: ${differences.length} table(s) no longer match the certificate: ${differences.map((d) => d.table).join(", ")}\n`);
    return EXIT_DIFFERS;
  });
}
