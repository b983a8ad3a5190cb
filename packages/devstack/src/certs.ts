// Certificates for the secure dev stack (`zeroloss dev up --secure`): a CA made for the run,
// a server certificate for the loopback address (PostgreSQL and Kafka), a client
// certificate (mutual TLS), and the server's key and chain as a PKCS#12 store for Kafka.
// Made with openssl, valid for a week, kept in the instance folder and gone with it.
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runTool } from "./run-tool.js";
import { LOOPBACK } from "./ports.js";

export interface DevCertificates {
  readonly dir: string;
  /** PEM: the CA that signed the others; what clients trust. */
  readonly caFile: string;
  /** PEM: the server's certificate (subjectAltName localhost and the loopback address) and key. */
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  /** PKCS#12: the server's key and chain, for Kafka's keystore. */
  readonly serverStoreFile: string;
  readonly storePassword: string;
  /** PEM: a client certificate (CN zeroloss) and key, for mutual TLS. */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
}

const DAYS = "7";

export async function makeDevCertificates(dir: string): Promise<DevCertificates> {
  const p = (name: string) => join(dir, name);
  const openssl = (args: string[], what: string) => runTool("openssl", args, { what: `openssl: ${what}`, cwd: dir });
  await openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", DAYS, "-subj", "/CN=zeroloss dev CA"], "the dev CA");
  const sign = async (name: string, subject: string, extensions: string) => {
    await writeFile(p(`${name}.ext`), extensions);
    await openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", p(`${name}.key`), "-out", p(`${name}.csr`), "-subj", subject], `the ${name} key`);
    await openssl(
      ["x509", "-req", "-in", p(`${name}.csr`), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial", "-out", p(`${name}.pem`), "-days", DAYS, "-extfile", p(`${name}.ext`)],
      `the ${name} certificate`,
    );
  };
  await sign("server", "/CN=localhost", `subjectAltName=DNS:localhost,IP:${LOOPBACK}\nextendedKeyUsage=serverAuth\n`);
  await sign("client", "/CN=zeroloss", "extendedKeyUsage=clientAuth\n");
  const storePassword = randomBytes(12).toString("hex");
  await openssl(
    ["pkcs12", "-export", "-in", p("server.pem"), "-inkey", p("server.key"), "-certfile", p("ca.pem"), "-out", p("server.p12"), "-passout", `pass:${storePassword}`, "-name", "server"],
    "the server's PKCS#12 store",
  );
  return {
    dir,
    caFile: p("ca.pem"),
    serverCertFile: p("server.pem"),
    serverKeyFile: p("server.key"),
    serverStoreFile: p("server.p12"),
    storePassword,
    clientCertFile: p("client.pem"),
    clientKeyFile: p("client.key"),
  };
}
