// The `zeroloss` command: parses arguments and hands each command to its module.
// Exit codes: 0 success, 1 the command failed, 2 usage or configuration error.
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { isZerolossError, describeError, redact } from "@zeroloss/errors";
import { POSTGRES_MAJORS } from "@zeroloss/devstack";
import { createLogger, type Logger } from "@zeroloss/observability";
import { certificateIssueCommand, certificateKeygenCommand, certificateVerifyCommand, parseTablePatterns } from "./commands/certificate.js";
import { checkCommand } from "./commands/check/check.js";
import { cutoverCommand } from "./commands/cutover/cutover.js";
import { devDown, devStatus, devUp } from "./commands/dev.js";
import { DEV_KAFKA_USAGE, devKafka } from "./commands/dev-kafka.js";
import { demoCommand } from "./commands/demo/demo.js";
import { runService } from "./commands/service.js";
import { replayCommand, parseOffsetTarget } from "./commands/replay.js";
import { parseMargin, sequencesSyncCommand } from "./commands/sequences.js";
import { slotDropCommand, slotStatusCommand } from "./commands/slot.js";
import { snapshotCommand } from "./commands/snapshot.js";
import { statusCommand } from "./commands/status.js";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("must be a number above 0");
  return n;
}

/** `--pg 17`: one of the majors the dev stack runs, refused by commander with the list otherwise. */
function pgMajorOption(flags: string, description: string): Option {
  return new Option(flags, description).choices(POSTGRES_MAJORS.map(String)).argParser((v: string) => {
    if (!POSTGRES_MAJORS.map(String).includes(v)) throw new InvalidArgumentError(`Allowed choices are ${POSTGRES_MAJORS.join(", ")}.`);
    return Number(v);
  });
}

function brokerCount(value: string): 1 | 3 {
  if (value === "1" || value === "3") return Number(value) as 1 | 3;
  throw new InvalidArgumentError("must be 1 or 3");
}

export function buildProgram(log: () => Logger, setExit: (code: number) => void): Command {
  const program = new Command("zeroloss")
    .description("Change-data-capture from PostgreSQL through Apache Kafka into PostgreSQL, with proof that nothing was lost or altered.")
    .version(process.env["npm_package_version"] ?? "0.1.0", "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    // Options after a command's arguments belong to it: `dev kafka <tool>` passes its tool's on.
    .enablePositionalOptions()
    .exitOverride();

  const dev = program
    .command("dev")
    .description("a local stack: source and target PostgreSQL, Apache Kafka (KRaft)")
    .enablePositionalOptions()
    .exitOverride();

  dev
    .command("up")
    .description("start the local stack; stays in the foreground (Ctrl-C stops it) unless --detach")
    .option("--brokers <n>", "Kafka brokers: 1, or 3 (replication factor 3, min.insync.replicas=2)", brokerCount, 1 as 1 | 3)
    .option("--detach", "return once everything is ready and leave it running (stop with `zeroloss dev down`)", false)
    .option("--json", 'print {"source": ..., "target": ..., "kafka": [...]} on stdout when ready (and "registry" with --registry, "security" with --secure)', false)
    .option("--registry", "also start a Confluent-compatible schema registry (Apicurio Registry, from Maven Central on first use)", false)
    .option("--secure", "TLS-only PostgreSQL and a SASL_SSL Kafka listener (SCRAM), certificates made for the run; the written config uses them (local mode)", false)
    .option("--config-out <file>", "write a ready-to-use zeroloss.yaml for this stack")
    .addOption(pgMajorOption("--pg <major>", "PostgreSQL major of both sides: 15 (the machine's, default), or 16, 17, 18 (from Maven Central on first use, 15 MB each; local mode)"))
    .addOption(pgMajorOption("--source-pg <major>", "PostgreSQL major of the source (overrides --pg)"))
    .addOption(pgMajorOption("--target-pg <major>", "PostgreSQL major of the target (overrides --pg)"))
    .exitOverride()
    .action(async (opts: { brokers: 1 | 3; detach: boolean; json: boolean; registry: boolean; secure: boolean; configOut?: string; pg?: number; sourcePg?: number; targetPg?: number }) => {
      setExit(await devUp({ ...opts, log: log() }));
    });

  dev
    .command("status")
    .description("show the detached local stack; exit 0 when every service is up, 1 otherwise")
    .option("--json", "machine-readable output", false)
    .exitOverride()
    .action(async (opts: { json: boolean }) => {
      setExit(await devStatus({ ...opts, log: log() }));
    });

  dev
    .command("down")
    .description("stop the detached local stack and remove its data; no process or port is left behind")
    .exitOverride()
    .action(async () => {
      setExit(await devDown({ log: log() }));
    });

  dev
    .command("kafka")
    .description("run one of Apache Kafka's own tools (consumer-groups, topics, configs, …) against the detached stack; no tool: the list")
    .argument("[tool]", "the tool: kafka-<tool>.sh of a Kafka distribution")
    .argument("[args...]", "the tool's own arguments, passed on as they are")
    .passThroughOptions()
    .allowUnknownOption()
    .addHelpText("after", `\n${DEV_KAFKA_USAGE}`)
    .exitOverride()
    .action(async (tool: string | undefined, args: string[]) => {
      setExit(await devKafka({ tool, args, log: log() }));
    });

  program
    .command("demo")
    .description(
      "the whole pipeline on a sample payments database, proven: starts a local stack, loads a backlog, runs producer, consumer and counter " +
        "under a workload of inserts, updates and deletes, drains, verifies source = target by content and prints the proof. Exit 0 only when everything is proven",
    )
    .option("--duration <seconds>", "seconds of workload", positiveNumber, 30)
    .option("--rate <transactions>", "source transactions per second during the workload", positiveNumber, 100)
    .option("--sustain <seconds>", "seconds of zero drift the verifier must see", positiveNumber, 5)
    .option("--keep", "leave the stack and the services running after the proof, for exploration, until Ctrl-C", false)
    .option("--json", "print the proof as JSON on stdout", false)
    .option("--dir <folder>", "where the demo's zeroloss.yaml, service logs and proof.json go", ".zeroloss/demo")
    .addOption(new Option("--encoding <encoding>", "how record values travel: json, or avro through a schema registry the demo starts too").choices(["json", "avro"]).default("json"))
    .option("--secure", "run it on the secure stack: TLS-only PostgreSQL with client certificates, Kafka over SASL_SSL, passwords in files (local mode)", false)
    .exitOverride()
    .action(async (opts: { duration: number; rate: number; sustain: number; keep: boolean; json: boolean; dir: string; encoding: "json" | "avro"; secure: boolean }) => {
      setExit(await demoCommand({ ...opts, log: log() }));
    });

  const configFlag = ["-c, --config <file>", "zeroloss.yaml (ZEROLOSS_* variables override it)"] as const;

  program
    .command("producer")
    .description("run the producer: stream the source's published tables into Kafka (Ctrl-C stops it cleanly); exits with the producer's exit code")
    .option(...configFlag)
    .option("--resnapshot", "drop the slot, create a new one and snapshot every table again (after a lost or missing slot); consumers absorb the duplicates", false)
    .option(
      "--accept-slot-gap",
      "after SLOT_AHEAD_OF_CHECKPOINT (the slot was moved past the producer's checkpoint): accept that the changes in between are lost and stream on from the slot's position",
      false,
    )
    .exitOverride()
    .action(async (opts: { config?: string; resnapshot: boolean; acceptSlotGap: boolean }) => {
      setExit(await runService("producer", opts.config, [...(opts.resnapshot ? ["--resnapshot"] : []), ...(opts.acceptSlotGap ? ["--accept-slot-gap"] : [])]));
    });

  program
    .command("consumer")
    .description("run a consumer: apply the data topics to the target, every row checksum validated by the target database (Ctrl-C stops it cleanly)")
    .option(...configFlag)
    .exitOverride()
    .action(async (opts: { config?: string }) => {
      setExit(await runService("consumer", opts.config));
    });

  program
    .command("counter")
    .description("run the counter: count every record per offset window at every stage, and serve /metrics, the API and the dashboard (Ctrl-C stops it)")
    .option(...configFlag)
    .exitOverride()
    .action(async (opts: { config?: string }) => {
      setExit(await runService("counter", opts.config));
    });

  program
    .command("verify")
    .description(
      "compare source and target by content (table hashes per key range on each server, bisected to the differing rows and columns); " +
        "differences still in flight are re-checked once the target caught up. Exit 0 equal, 1 drift, 2 error",
    )
    .option(...configFlag)
    .option("--tables <list>", "schema.table patterns, comma-separated (default: verify.tables, else the source's tables)")
    .option("--sustain <seconds>", "verify again and again until this many seconds of zero drift, or report the drift that stays")
    .option("--json", "print the report as JSON on stdout", false)
    .option("--continuous", "run as a watchdog: verify every verify.intervalSeconds, serve /metrics, /healthz and /api/last", false)
    .option("--progress", "progress on stderr even when it is not a terminal")
    .option("--no-progress", "no progress on stderr")
    .exitOverride()
    .action(async (opts: { config?: string; tables?: string; sustain?: string; json: boolean; continuous: boolean; progress?: boolean }) => {
      const args = [
        ...(opts.tables === undefined ? [] : ["--tables", opts.tables]),
        ...(opts.sustain === undefined ? [] : ["--sustain", opts.sustain]),
        ...(opts.json ? ["--json"] : []),
        ...(opts.continuous ? ["--continuous"] : []),
        ...(opts.progress === undefined ? [] : [opts.progress ? "--progress" : "--no-progress"]),
      ];
      setExit(await runService("verifier", opts.config, args));
    });

  program
    .command("status")
    .description("the counter's summary; exit 0 when everything closed balances, 1 when anything is in attention or mismatch, 2 when the counter cannot be reached")
    .option(...configFlag)
    .option("--url <url>", "the counter's base URL (default: from counter.http)")
    .option("--json", "the summary as JSON", false)
    .exitOverride()
    .action(async (opts: { config?: string; url?: string; json: boolean }) => {
      setExit(await statusCommand(opts));
    });

  program
    .command("check")
    .description(
      "preflight before a migration: source settings, tables and keys, types the target lacks, target tables against the source's, " +
        "foreign keys and triggers, sequences, the roles' privileges; every problem at once, with its fix. Changes nothing unless --fix. " +
        "Exit 0 no errors (warnings allowed), 1 errors found, 2 could not check (configuration, connection)",
    )
    .option(...configFlag)
    .option("--json", "one JSON object: findings (area, severity, check, object, problem, fix, code) and a summary", false)
    .option("--fix", "first create in the target, in one transaction, the enums, domains and composite types the source's columns need (not extensions)", false)
    .exitOverride()
    .action(async (opts: { config?: string; json: boolean; fix: boolean }) => {
      setExit(await checkCommand(opts));
    });

  program
    .command("replay")
    .description(
      "reset the consumer group's offsets so the data topics are read again (refused while consumers of the group are running); " +
        "replayed records are validated and applied again, and the target converges to the same content",
    )
    .option(...configFlag)
    .option("--group <group>", "the consumer group (default: consumer.group)")
    .option("--to-earliest", "from the beginning of every data topic", false)
    .option("--to-datetime <iso>", "from the first record at or after this time (ISO-8601), per partition")
    .option("--to-offset <topic:partition:offset>", "one partition, to this offset", parseOffsetTarget)
    .option("--json", "print what was reset as JSON", false)
    .exitOverride()
    .action(async (opts: { config?: string; group?: string; toEarliest: boolean; toDatetime?: string; toOffset?: { topic: string; partition: number; offset: string }; json: boolean }) => {
      setExit(await replayCommand({ ...opts, log: log() }));
    });

  program
    .command("snapshot")
    .description(
      "snapshot tables again while the producer streams (after a repair by hand, a target restored from a backup); the producer reads " +
        "them with the watermark method, every other change flowing. Exit 0 when requested, 2 when a table is not streamed (nothing requested)",
    )
    .option(...configFlag)
    .requiredOption("--table <schema.table>", "a table to snapshot again (repeat for more)", (v: string, all: string[] | undefined) => [...(all ?? []), v])
    .exitOverride()
    .action(async (opts: { config?: string; table: string[] }) => {
      setExit(await snapshotCommand(opts));
    });

  const slot = program
    .command("slot")
    .description("the source's logical replication slot (source.slot)")
    .exitOverride();

  slot
    .command("status")
    .description(
      "show the slot's position, retained WAL and lag, the producer's checkpoint, and what to do; exit 0 when it exists and is usable, " +
        "1 when missing or lost (or the checkpoint cannot be read from Kafka), 3 when the slot is ahead of the producer's checkpoint",
    )
    .option(...configFlag)
    .option("--json", "one JSON object: the slot's fields and an advice array", false)
    .exitOverride()
    .action(async (opts: { config?: string; json: boolean }) => {
      setExit(await slotStatusCommand(opts));
    });

  slot
    .command("drop")
    .description("drop the slot (refused while the producer uses it); the producer must then re-snapshot")
    .option(...configFlag)
    .option("--yes", "confirm: dropping loses the stream position and forces a re-snapshot", false)
    .exitOverride()
    .action(async (opts: { config?: string; yes: boolean }) => {
      setExit(await slotDropCommand(opts));
    });

  const sequences = program
    .command("sequences")
    .description("the target's sequences, which logical replication does not carry")
    .exitOverride();

  sequences
    .command("sync")
    .description(
      "set each target sequence of the replicated tables (serial, identity, defaults, standalone ones source.tables matches) to the source's next value " +
        "plus the margin, never back; exit 0 when all are in sync after it, 1 when one is missing on the target or out of range (nothing is set then)",
    )
    .option(...configFlag)
    .option("--margin <n>", "set each this far past the source's next value (default: sequences.margin, 0)", parseMargin)
    .option("--dry-run", "report what would be set, change nothing", false)
    .option("--json", "print the report as JSON on stdout", false)
    .option("--every <seconds>", "sync again every this many seconds while streaming, a line per run, until Ctrl-C (use a margin larger than the ids drawn between runs)", positiveNumber)
    .exitOverride()
    .action(async (opts: { config?: string; margin?: bigint; dryRun: boolean; json: boolean; every?: number }) => {
      setExit(await sequencesSyncCommand(opts));
    });

  program
    .command("cutover")
    .description(
      "end a migration, proven: preflight, fence the source's writes and take the fence LSN, drain to it (applied, counted, nothing quarantined), " +
        "verify every table by content at the cut, sync sequences, validate foreign keys, sign the certificate. Resumable (state in --dir); " +
        "exit 0 proven, 1 not proven or refused (every reason given), 2 wrong options or configuration. docs/cutover.md is the runbook",
    )
    .option(...configFlag)
    .addOption(new Option("--fence <mode>", "read-only: zeroloss makes the source refuse the --app-role roles' writes; wait: the operator stops the writers").choices(["read-only", "wait"]))
    .option("--app-role <role>", "an application login role to fence (--fence read-only; repeat for more)", (v: string, all: string[]) => [...all, v], [] as string[])
    .option("--rehearse", "the dry run: preflight, drain to the current position and verify, against the moving source; fences and signs nothing", false)
    .option("--private-key <file>", "the Ed25519 private key (PEM) the certificate is signed with (zeroloss certificate keygen)")
    .option("--dir <folder>", "where the state, the certificate (certificate.json, certificate.html) and the verifier's report go", ".zeroloss/cutover")
    .option("--margin <n>", "set each target sequence this far past the source's next value (default: sequences.margin)", parseMargin)
    .option("--quiet-seconds <s>", "how long no write may be seen before the fence LSN is taken (PostgreSQL publishes an idle session's table counts up to 10 s late)", positiveNumber, 12)
    .option("--fence-timeout <s>", "give up the fence after this many seconds of writes still going on", positiveNumber, 300)
    .option("--drain-timeout <s>", "give up the drain after this many seconds (the fence stays; run again to resume)", positiveNumber, 900)
    .option("--abort", "lift the fence the cutover in --dir set and close its record (after a failure, or to roll back)", false)
    .option("--json", "the outcome as JSON on stdout (progress stays on stderr)", false)
    .exitOverride()
    .action(
      async (opts: {
        config?: string;
        fence?: "read-only" | "wait";
        appRole: string[];
        rehearse: boolean;
        privateKey?: string;
        dir: string;
        margin?: bigint;
        quietSeconds: number;
        fenceTimeout: number;
        drainTimeout: number;
        abort: boolean;
        json: boolean;
      }) => {
        setExit(await cutoverCommand({ ...opts, log: log() }));
      },
    );

  const certificate = program
    .command("certificate")
    .description("the zero-loss certificate: a signed document that the target's tables hold the source's rows (docs/operations.md, \"Certificate\")")
    .exitOverride();

  certificate
    .command("keygen")
    .description("make an Ed25519 key pair for signing certificates: private.pem (mode 0600) and public.pem; never overwrites")
    .requiredOption("--out-dir <folder>", "where the two files go")
    .exitOverride()
    .action(async (opts: { outDir: string }) => {
      setExit(await certificateKeygenCommand(opts));
    });

  certificate
    .command("issue")
    .description(
      "hash every table source.tables chooses on the source and on the target (each side in one snapshot), sign and write the certificate. " +
        "Exit 0 every table equal, 1 a table differs (the certificate is written, proven: false), 2 configuration, key or connection problem",
    )
    .option(...configFlag)
    .requiredOption("--private-key <file>", "the Ed25519 private key (PEM) to sign with")
    .requiredOption("--out <file>", "the certificate (JSON): the signed document")
    .option("--html <file>", "also write a readable HTML page of it")
    .option("--tables <patterns>", "schema.table patterns separated by commas, in place of source.tables (source.exclude still applies)", parseTablePatterns)
    .exitOverride()
    .action(async (opts: { config?: string; privateKey: string; out: string; html?: string; tables?: string[] }) => {
      setExit(await certificateIssueCommand(opts));
    });

  certificate
    .command("verify")
    .description(
      "check a certificate's signature with the public key; --recheck also hashes the target's tables again. " +
        "Exit 0 valid (and still matching), 1 invalid or a table no longer matches, 2 a file, key or configuration problem",
    )
    .argument("<file>", "the certificate (JSON)")
    .requiredOption("--public-key <file>", "the Ed25519 public key (PEM) it must be signed with")
    .option("--recheck", "hash the target's certified tables again (needs --config)", false)
    .option(...configFlag)
    .exitOverride()
    .action(async (file: string, opts: { publicKey: string; recheck: boolean; config?: string }) => {
      setExit(await certificateVerifyCommand(file, opts));
    });

  return program;
}

/** Runs the CLI with `argv` (as process.argv) and returns the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  let exitCode = EXIT_OK;
  let logger: Logger | undefined;
  const log = () => (logger ??= createLogger({ name: "zeroloss", pretty: true, level: (process.env["ZEROLOSS_LOG_LEVEL"] as "info" | undefined) ?? "info" }));
  const program = buildProgram(log, (code) => (exitCode = code));
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (isZerolossError(err)) {
      process.stderr.write(redact(`zeroloss: error [${err.code}]: ${err.message}\n`));
      return err.code.startsWith("CONFIG_") || err.code === "STACK_CONFIG_INVALID" ? EXIT_USAGE : EXIT_FAILED;
    }
    process.stderr.write(redact(`zeroloss: unexpected error: ${describeError(err)}\n${err instanceof Error ? (err.stack ?? "") : ""}\n`));
    return EXIT_FAILED;
  }
  return exitCode;
}
