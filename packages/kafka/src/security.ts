// How zeroloss's Kafka clients prove who they are and whom they talk to: kafka.tls and
// kafka.sasl of zeroloss.yaml as kafkajs's `ssl` and `sasl` options, the same for every
// client of every service and the CLI. Certificates are read when a client is made; an
// oauthbearer token file is read again at every authentication (its owner renews it).
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import { forgetSecret, keepSecret, ZerolossError } from "@zeroloss/errors";
import type { SASLOptions } from "kafkajs";

/** kafka.tls (packages/config). */
export interface KafkaTls {
  readonly caFile?: string | undefined;
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  readonly serverName?: string | undefined;
  readonly verifyServerName: boolean;
}

/** kafka.sasl, its passwordFile already read into password (packages/config). */
export interface KafkaSasl {
  readonly mechanism: "plain" | "scram-sha-256" | "scram-sha-512" | "oauthbearer";
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly tokenFile?: string | undefined;
}

/** What a client needs to reach the cluster: kafka.brokers, kafka.tls, kafka.sasl. */
export interface KafkaConnection {
  readonly brokers: readonly string[];
  readonly tls?: KafkaTls | undefined;
  readonly sasl?: KafkaSasl | undefined;
}

function readPem(key: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new ZerolossError("CONFIG_INVALID", `${key}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { details: { setting: key, path } });
  }
}

/** kafkajs's `ssl` option: undefined (plaintext) without kafka.tls. */
export function tlsOptions(tls: KafkaTls | undefined): ConnectionOptions | undefined {
  if (tls === undefined) return undefined;
  return {
    rejectUnauthorized: true,
    ...(tls.caFile === undefined ? {} : { ca: [readPem("kafka.tls.caFile", tls.caFile)] }),
    ...(tls.certFile === undefined ? {} : { cert: readPem("kafka.tls.certFile", tls.certFile) }),
    ...(tls.keyFile === undefined ? {} : { key: readPem("kafka.tls.keyFile", tls.keyFile) }),
    ...(tls.serverName === undefined ? {} : { servername: tls.serverName }),
    // The chain is verified either way; only the name check is skipped.
    ...(tls.verifyServerName ? {} : { checkServerIdentity: () => undefined }),
  };
}

/** kafkajs's `sasl` option: undefined without kafka.sasl. */
export function saslOptions(sasl: KafkaSasl | undefined): SASLOptions | undefined {
  if (sasl === undefined) return undefined;
  if (sasl.mechanism === "oauthbearer") {
    const file = sasl.tokenFile;
    if (file === undefined) throw new ZerolossError("CONFIG_INVALID", "kafka.sasl.tokenFile is required with mechanism oauthbearer", { details: { setting: "kafka.sasl.tokenFile" } });
    let current: string | null = null;
    return {
      mechanism: "oauthbearer",
      oauthBearerProvider: async () => {
        const value = readPem("kafka.sasl.tokenFile", file).trim();
        if (value !== current) {
          if (current !== null) forgetSecret(current); // renewed: the old one is no longer held
          keepSecret(value);
          current = value;
        }
        return { value };
      },
    };
  }
  const { username, password } = sasl;
  if (username === undefined || password === undefined) {
    throw new ZerolossError("CONFIG_INVALID", `kafka.sasl: mechanism ${sasl.mechanism} needs username and password (or passwordFile)`, { details: { setting: "kafka.sasl" } });
  }
  return { mechanism: sasl.mechanism, username, password };
}
