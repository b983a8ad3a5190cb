// Secrets of the configuration: `…File` keys read into the values they stand for, and every
// secret registered with keepSecret (packages/errors) so no log line or error shows it. Runs
// once, at load: a file that cannot be read is a configuration problem naming its key.
import { readFileSync } from "node:fs";
import { keepSecret } from "@zeroloss/errors";
import type { ConfigProblem } from "./load.js";
import type { Config } from "./schema.js";

/** A secret file's content, without the trailing newline editors and `echo` leave. */
export function readSecretFile(path: string): string {
  return readFileSync(path, "utf8").replace(/\r?\n$/, "");
}

/** The password in `scheme://user:password@…`, as written (still percent-encoded). */
const URL_PASSWORD = /^[a-z]+:\/\/[^:/@]*:([^@]*)@/i;

/** A URL's percent-encoded text decoded, or as written when it is not valid percent-encoding (a bare %). */
function decodedOrAsIs(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The config with `…File` secrets read in; problems are pushed to `problems`. */
export function resolveSecrets(config: Config, counterUrlGiven: boolean, problems: ConfigProblem[]): Config {
  const read = (key: string, path: string): string | undefined => {
    try {
      const value = readSecretFile(path);
      if (value.length === 0) problems.push({ path: key, message: `${path} is empty` });
      return value;
    } catch (err) {
      problems.push({ path: key, message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      return undefined;
    }
  };
  const withPassword = (section: string, url: string, file: string | undefined): string => {
    // Every form a password may take in the URL as written: user:password@, ?password=.
    for (const written of [URL_PASSWORD.exec(url)?.[1], /[?&]password=([^&]*)/.exec(url)?.[1]]) {
      if (written === undefined) continue;
      keepSecret(written);
      keepSecret(decodedOrAsIs(written));
    }
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      // A form WHATWG URLs refuse but node-postgres takes (a socket folder as host=): left as written.
      if (file !== undefined) problems.push({ path: `${section}.passwordFile`, message: `${section}.url cannot be parsed to add the password to it; put the password in the URL, or use host and port` });
      return url;
    }
    if (file === undefined) return url;
    if (u.password !== "" || u.searchParams.has("password")) {
      problems.push({ path: `${section}.passwordFile`, message: `${section}.url carries a password too; keep one of them` });
      return url;
    }
    const password = read(`${section}.passwordFile`, file);
    if (password === undefined) return url;
    keepSecret(password);
    u.password = encodeURIComponent(password);
    return u.toString();
  };
  const source = { ...config.source, url: withPassword("source", config.source.url, config.source.passwordFile) };
  const target = { ...config.target, url: withPassword("target", config.target.url, config.target.passwordFile) };
  if (!counterUrlGiven && config.counter.passwordFile !== undefined) {
    problems.push({ path: "counter.passwordFile", message: "is only for counter.url; the ledger on target.url takes target.passwordFile" });
  }
  const counter = { ...config.counter, url: counterUrlGiven ? withPassword("counter", config.counter.url, config.counter.passwordFile) : target.url };

  let kafka = config.kafka;
  const sasl = kafka.sasl;
  if (sasl !== undefined) {
    const password = sasl.passwordFile === undefined ? sasl.password : read("kafka.sasl.passwordFile", sasl.passwordFile);
    keepSecret(password);
    if (sasl.tokenFile !== undefined) keepSecret(read("kafka.sasl.tokenFile", sasl.tokenFile)); // read again at each authentication
    kafka = { ...kafka, sasl: { ...sasl, ...(password === undefined ? {} : { password }) } };
  }
  const registry = kafka.registry;
  if (registry !== undefined) {
    const password = registry.passwordFile === undefined ? registry.password : read("kafka.registry.passwordFile", registry.passwordFile);
    keepSecret(password);
    keepSecret(decodedOrAsIs(URL_PASSWORD.exec(registry.url)?.[1] ?? ""));
    kafka = { ...kafka, registry: { ...registry, ...(password === undefined ? {} : { password }) } };
  }
  // Certificates, keys and HTTP tokens are read by their users; a path that cannot be read is reported now.
  for (const [key, path] of [
    ["kafka.tls.caFile", kafka.tls?.caFile],
    ["kafka.tls.certFile", kafka.tls?.certFile],
    ["kafka.tls.keyFile", kafka.tls?.keyFile],
    ["kafka.registry.caFile", kafka.registry?.caFile],
    ["producer.http.tokenFile", config.producer.http.tokenFile],
    ["consumer.http.tokenFile", config.consumer.http.tokenFile],
    ["counter.http.tokenFile", config.counter.http.tokenFile],
    ["verify.http.tokenFile", config.verify.http.tokenFile],
  ] as const) {
    if (path !== undefined) read(key, path);
  }
  return { ...config, source, target, counter, kafka };
}
