// Apache Kafka's own command-line tools (what kafka-consumer-groups.sh and the other scripts of
// a Kafka distribution run), from the jars the stack resolves anyway (kafka-runtime.ts), so a
// machine without a Kafka distribution has them: `zeroloss dev kafka <tool> [args…]`. Against
// a stack, the tool is given its brokers and, for a secure stack, a client configuration with
// the stack's TLS and SASL settings.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import { DevstackError } from "./errors.js";
import { ensureKafkaRuntime } from "./kafka-runtime.js";
import { findJava } from "./prereqs.js";
import type { Env } from "./paths.js";
import type { StackEndpoints, StackSecurity } from "./stack.js";

export interface KafkaTool {
  /** The class the distribution's bin/kafka-<name>.sh runs. */
  readonly mainClass: string;
  readonly does: string;
}

/** By the name of the distribution's script without `kafka-` and `.sh`. Every one takes --bootstrap-server and --command-config. */
export const KAFKA_TOOLS: Readonly<Record<string, KafkaTool>> = {
  "consumer-groups": {
    mainClass: "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    does: "list and describe consumer groups, their members and lag; reset or delete their offsets",
  },
  topics: { mainClass: "org.apache.kafka.tools.TopicCommand", does: "list, describe, create, alter and delete topics" },
  configs: { mainClass: "kafka.admin.ConfigCommand", does: "describe and alter the configs of topics, brokers, clients and users" },
  "get-offsets": { mainClass: "org.apache.kafka.tools.GetOffsetShell", does: "the earliest, latest or by-time offsets of topic partitions" },
  "console-consumer": { mainClass: "org.apache.kafka.tools.consumer.ConsoleConsumer", does: "print a topic's records" },
  transactions: { mainClass: "org.apache.kafka.tools.TransactionsCommand", does: "list, describe and abort transactions (the producer's are transactional)" },
  "delete-records": { mainClass: "org.apache.kafka.tools.DeleteRecordsCommand", does: "delete records of partitions up to an offset" },
};

/** The tools, one a line: `  consumer-groups   list and describe …`. */
export function kafkaToolList(): string {
  const width = Math.max(...Object.keys(KAFKA_TOOLS).map((n) => n.length)) + 3;
  return Object.entries(KAFKA_TOOLS)
    .map(([name, tool]) => `  ${name.padEnd(width)}${tool.does}`)
    .join("\n");
}

/** Whether the user's arguments give `flag` (as `--flag value` or `--flag=value`). */
export function givesFlag(args: readonly string[], flag: string): boolean {
  return args.some((a) => a === flag || a.startsWith(`${flag}=`));
}

/** A call that only asks the tool for its usage, and so needs no cluster. */
function asksForHelp(args: readonly string[]): boolean {
  return args.some((a) => a === "--help" || a === "-h" || a === "--version");
}

/** The brokers a tool is pointed at, and their security when they are a secure stack's. */
export type KafkaToolTarget = Pick<StackEndpoints, "kafka" | "security">;

/** One `key=value` line of a .properties file, escaped as java.util.Properties reads it. */
function property(key: string, value: string): string {
  const escaped = value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r");
  return `${key}=${escaped}`;
}

/**
 * A Kafka client configuration for a secure stack's SASL_SSL listener: trust the stack's CA,
 * present its client certificate (the listener requires one), SCRAM-SHA-512 as its user.
 * `keystoreFile` holds the client's key and certificate as one PEM file.
 */
export function secureClientProperties(security: StackSecurity, password: string, keystoreFile: string): string {
  const jaasQuoted = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  return (
    [
      "# Written by zeroloss dev kafka for the secure local stack; removed when the tool exits.",
      property("security.protocol", "SASL_SSL"),
      property("sasl.mechanism", "SCRAM-SHA-512"),
      property(
        "sasl.jaas.config",
        `org.apache.kafka.common.security.scram.ScramLoginModule required username=${jaasQuoted(security.kafkaUser)} password=${jaasQuoted(password)};`,
      ),
      property("ssl.truststore.type", "PEM"),
      property("ssl.truststore.location", security.caFile),
      property("ssl.keystore.type", "PEM"),
      property("ssl.keystore.location", keystoreFile),
    ].join("\n") + "\n"
  );
}

// Kafka's tools log through log4j; without a configuration log4j's default prints to stdout,
// into the tables the tools print. As the distribution's tools-log4j2.yaml: warnings and
// errors, to stderr.
const TOOLS_LOG4J2 = `status = error
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = err
`;

/** A tool's command line, ready to spawn; `cleanup` removes its files (the client configuration holds a password). */
export interface PreparedKafkaTool {
  readonly command: string;
  readonly args: readonly string[];
  /** What was added to the user's arguments, for the log (never the password). */
  readonly added: { readonly bootstrapServer?: string; readonly commandConfig?: string };
  cleanup(): Promise<void>;
}

export interface PrepareKafkaToolOptions {
  readonly tool: string;
  readonly args: readonly string[];
  /**
   * The stack the tool works on. Its brokers go to --bootstrap-server unless the user gave
   * one (or only asks for help); a secure stack's client settings go to --command-config
   * unless the user gave one.
   */
  readonly target: KafkaToolTarget | undefined;
  readonly env: Env;
  readonly log: Logger;
}

/** True when the tool must be told where the cluster is: the user gave no --bootstrap-server and asks for more than help. */
export function needsBootstrap(args: readonly string[]): boolean {
  return !givesFlag(args, "--bootstrap-server") && !asksForHelp(args);
}

/** Java, the class path and the arguments of one run of a Kafka tool; the jars are resolved on first use. */
export async function prepareKafkaTool(options: PrepareKafkaToolOptions): Promise<PreparedKafkaTool> {
  const tool = KAFKA_TOOLS[options.tool];
  if (tool === undefined) {
    throw new DevstackError("STACK_CONFIG_INVALID", `no Kafka tool named '${options.tool}'; the tools are:\n${kafkaToolList()}`);
  }
  const java = findJava(options.env);
  const runtime = await ensureKafkaRuntime(options.env, options.log);
  const dir = await mkdtemp(join(tmpdir(), "zeroloss-kafka-tool-"));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const log4j = join(dir, "log4j2.properties");
    await writeFile(log4j, TOOLS_LOG4J2);
    const added: { bootstrapServer?: string; commandConfig?: string } = {};
    const ours: string[] = [];
    const target = options.target;
    if (target !== undefined && needsBootstrap(options.args)) {
      added.bootstrapServer = target.kafka.join(",");
      ours.push("--bootstrap-server", added.bootstrapServer);
      if (target.security !== undefined && !givesFlag(options.args, "--command-config")) {
        added.commandConfig = await writeSecureClientConfig(dir, target.security);
        ours.push("--command-config", added.commandConfig);
      }
    }
    const args = [
      "-Xmx256m",
      // One admin request and out: the JIT's first tier alone starts the tool in about a
      // third less CPU (measured on topics --list) and a collector without threads suffices.
      "-XX:TieredStopAtLevel=1",
      "-XX:+UseSerialGC",
      "-Djava.awt.headless=true",
      `-Dlog4j2.configurationFile=${log4j}`,
      "-cp",
      `${runtime.libs}/*`,
      tool.mainClass,
      // Before the user's: kafka-transactions takes its global options before its subcommand.
      ...ours,
      ...options.args,
    ];
    return { command: java, args, added, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function writeSecureClientConfig(dir: string, security: StackSecurity): Promise<string> {
  const read = async (what: string, file: string) => {
    try {
      return await readFile(file, "utf8");
    } catch (err) {
      throw new DevstackError(
        "STACK_NOT_RUNNING",
        `cannot read the secure stack's ${what} (${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); is the stack still running? \`zeroloss dev status\``,
        { cause: err },
      );
    }
  };
  const password = (await read("Kafka password", security.kafkaPasswordFile)).replace(/\r?\n$/, "");
  // Kafka's PEM keystore is one file holding the key and its certificate.
  const keystore = join(dir, "client-keystore.pem");
  const key = await read("client key", security.clientKeyFile);
  const cert = await read("client certificate", security.clientCertFile);
  await writeFile(keystore, `${key.trimEnd()}\n${cert.trimEnd()}\n`, { mode: 0o600 });
  const file = join(dir, "client.properties");
  await writeFile(file, secureClientProperties(security, password, keystore), { mode: 0o600 });
  return file;
}
