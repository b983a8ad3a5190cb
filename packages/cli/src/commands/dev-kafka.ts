// `zeroloss dev kafka <tool> [args…]`: one of Apache Kafka's own command-line tools
// (packages/devstack/src/kafka-tools.ts) against the detached local stack, whose brokers (and,
// for a secure stack, TLS and SASL settings) it is given. The tool gets the terminal: its
// output and exit code are the command's.
import { spawn } from "node:child_process";
import {
  DevstackError,
  KAFKA_TOOLS,
  isListening,
  kafkaToolList,
  needsBootstrap,
  prepareKafkaTool,
  readDetachedState,
  type KafkaToolTarget,
} from "@zeroloss/devstack";
import type { Logger } from "@zeroloss/observability";
import { superviseChild } from "./child.js";

export const DEV_KAFKA_USAGE = `usage: zeroloss dev kafka <tool> [args…]

Runs Apache Kafka's own tool (what kafka-<tool>.sh of a Kafka distribution runs) with the
jars of the local stack, against the detached stack (\`zeroloss dev up --detach\`):
--bootstrap-server is its brokers unless given, and then a secure stack's TLS and SASL
settings go in a --command-config file unless one is given. With your own
--bootstrap-server no stack is read: give --command-config yourself if it needs one. Tools:
${kafkaToolList()}

example: zeroloss dev kafka consumer-groups --group zeroloss --reset-offsets --to-earliest --all-topics --execute`;

/** host:port of a broker address as the stack records it. */
function hostPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

/** The detached stack's Kafka, checked to answer: a tool would otherwise retry for a minute before saying so. */
async function detachedStackKafka(): Promise<KafkaToolTarget> {
  const state = await readDetachedState(process.env);
  if (state === undefined) {
    throw new DevstackError(
      "STACK_NOT_RUNNING",
      "no detached local stack to run the Kafka tool against: start one with `zeroloss dev up --detach`, or give the tool --bootstrap-server",
    );
  }
  const answering = await Promise.all(state.kafka.map((b) => hostPort(b)).map(({ host, port }) => isListening(port, host)));
  if (!answering.some((a) => a)) {
    throw new DevstackError("STACK_NOT_RUNNING", `the detached stack's Kafka (${state.kafka.join(",")}) does not answer; see \`zeroloss dev status\``);
  }
  return { kafka: state.kafka, ...(state.security === undefined ? {} : { security: state.security }) };
}

export async function devKafka(options: { tool: string | undefined; args: readonly string[]; log: Logger }): Promise<number> {
  if (options.tool === undefined) {
    process.stdout.write(`${DEV_KAFKA_USAGE}\n`);
    return 0;
  }
  if (KAFKA_TOOLS[options.tool] === undefined) {
    process.stderr.write(`zeroloss: no Kafka tool named '${options.tool}'.\n${DEV_KAFKA_USAGE}\n`);
    return 2;
  }
  const log = options.log.child({ command: `dev kafka ${options.tool}` });
  const target = needsBootstrap(options.args) ? await detachedStackKafka() : undefined;
  const prepared = await prepareKafkaTool({ tool: options.tool, args: options.args, target, env: process.env, log });
  log.debug({ added: prepared.added }, "running Kafka's tool");
  try {
    const child = spawn(prepared.command, [...prepared.args], { stdio: "inherit", env: process.env });
    return await superviseChild(
      child,
      `kafka ${options.tool} tool`,
      (err) => new DevstackError("PREREQUISITE_MISSING", `could not start Java (${prepared.command}) for Kafka's ${options.tool} tool: ${err.message}`, { cause: err }),
    );
  } finally {
    await prepared.cleanup();
  }
}
