// `zeroloss slot status | drop`: the source's logical replication slot, read and removed
// with the same code the producer uses (@zeroloss/pg), with plain advice on what to do.
// `status` also reads the producer's last checkpoint from Kafka and, with the producer's own
// check (checkSlotAgainstCheckpoint), says when the slot is ahead of it (DESIGN.md
// invariant 10): the producer refuses to start then, and only the operator can choose.
import { loadConfig, type Config } from "@zeroloss/config";
import { describeError, isZerolossError } from "@zeroloss/errors";
import { createKafka, readCheckpoint } from "@zeroloss/kafka";
import { silentLogger } from "@zeroloss/observability";
import {
  compareSlotWithCheckpoint,
  connect,
  describeSlotAhead,
  describeUrl,
  dropSlot,
  type Client,
  type SlotStatus,
  type SlotVerdict,
} from "@zeroloss/pg";
import { topicNames, type Checkpoint } from "@zeroloss/wire";

/** Exit code of `slot status` for a slot ahead of the producer's checkpoint. */
export const EXIT_SLOT_AHEAD = 3;

/** The producer's checkpoint as `slot status` found it, and the verdict on the slot against it. */
export type CheckpointCheck =
  | { readonly read: true; readonly checkpoint: Checkpoint | null; readonly verdict: SlotVerdict }
  | { readonly read: false; readonly error: string };

export interface SlotCommandOptions {
  readonly config?: string;
}

/** 1536 → "1.5 KiB". */
export function humanBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = unit === 0 ? String(value) : value >= 100 ? value.toFixed(0) : value.toFixed(1);
  return `${bytes < 0 ? "-" : ""}${text} ${units[unit]}`;
}

function configArg(options: SlotCommandOptions): string {
  return options.config === undefined ? "<file>" : options.config;
}

function resnapshotCommand(options: SlotCommandOptions): string {
  return `zeroloss producer --config ${configArg(options)} --resnapshot`;
}

const RESNAPSHOT_EFFECT = "it drops the slot, creates a new one and snapshots every table again; consumers absorb the duplicates";

/** What an operator should do about the slot, most important first. Empty when all is well. */
export function slotAdvice(status: SlotStatus, options: SlotCommandOptions, check?: CheckpointCheck): string[] {
  const advice: string[] = [];
  const retained = status.retainedWalBytes === null ? "" : ` (${humanBytes(status.retainedWalBytes)} of WAL retained)`;
  if (!status.exists) {
    advice.push(
      `Replication slot ${status.slot} does not exist. If the producer has streamed from it before, the changes made since ` +
        `it disappeared cannot be read any more: a re-snapshot is needed. Run: ${resnapshotCommand(options)} (${RESNAPSHOT_EFFECT}).`,
      `If the producer has never run against this database, nothing is lost: its first start creates the slot.`,
    );
    return advice;
  }
  switch (status.walStatus) {
    case "lost":
      advice.push(
        `Replication slot ${status.slot} is lost (wal_status=lost): PostgreSQL removed WAL the producer had not read yet, ` +
          `so changes are missing and the slot can never be read again. A re-snapshot is needed: stop the producer, then run ` +
          `${resnapshotCommand(options)} (${RESNAPSHOT_EFFECT}).`,
        `To keep it from happening again, keep the producer running, or raise max_slot_wal_keep_size on the source.`,
      );
      return advice;
    case "unreserved":
      advice.push(
        `WAL is piling up: the slot's WAL is beyond max_wal_size and no longer reserved (wal_status=unreserved)${retained}; ` +
          `PostgreSQL may remove it at the next checkpoint, and the slot is then lost and a re-snapshot is needed. ` +
          `Make sure the producer is running and catching up now.`,
      );
      break;
    case "extended":
      advice.push(
        `WAL is piling up: the slot keeps more WAL than max_wal_size (wal_status=extended)${retained}. ` +
          `Make sure the producer is running and catching up; if the WAL passes max_slot_wal_keep_size the slot is lost and a re-snapshot is needed.`,
      );
      break;
    default:
      break;
  }
  if (check !== undefined && !check.read) {
    advice.unshift(
      `Could not read the producer's checkpoint from Kafka (${check.error}), so whether the slot is ahead of it is unknown. ` +
        `Check that Kafka is reachable (kafka.brokers) and run this again.`,
    );
  } else if (check !== undefined && !check.verdict.ok) {
    const text = describeSlotAhead(status.slot, check.verdict.ahead, configArg(options));
    advice.unshift(`${text.charAt(0).toUpperCase()}${text.slice(1)}.`);
  }
  const ahead = check !== undefined && check.read && !check.verdict.ok;
  // Ahead, the producer refuses to start until the operator chooses: "start it" would not help.
  if (!status.active && !ahead) {
    advice.push(`No process is reading the slot (active: no): WAL accumulates on the source until the producer runs (zeroloss producer --config ${configArg(options)}).`);
  }
  return advice;
}

function bytesLine(bytes: number | null): string {
  return bytes === null ? "-" : `${humanBytes(bytes)} (${bytes} bytes)`;
}

/** The position the slot must not pass, as `slot status` prints it; null without a checkpoint. */
function checkpointBound(checkpoint: Checkpoint | null): string | null {
  if (checkpoint === null) return null;
  if (checkpoint.phase === "streaming") return checkpoint.lsn;
  const consistent = checkpoint.snapshot?.consistentLsn;
  return consistent === undefined || consistent === "0/0" ? null : consistent; // 0/0: the slot is not created yet
}

function checkpointLine(check: CheckpointCheck): string {
  if (!check.read) return "unknown (Kafka could not be read)";
  const cp = check.checkpoint;
  if (cp === null) return "none (the producer has not committed one)";
  if (cp.phase === "streaming") return cp.lsn;
  const consistent = checkpointBound(cp);
  return consistent === null ? "snapshot starting (no slot position yet)" : `${consistent} (snapshot in progress; its consistent point)`;
}

export function formatSlotStatus(status: SlotStatus, source: string, advice: readonly string[], check?: CheckpointCheck): string {
  const rows: [string, string][] = [
    ["source", source],
    ["slot", status.slot],
    ["exists", status.exists ? "yes" : "no"],
  ];
  if (status.exists) {
    rows.push(
      ["plugin", status.plugin ?? "-"],
      ["active", status.active ? `yes${status.activePid === null ? "" : ` (pid ${status.activePid})`}` : "no"],
      ["restart_lsn", status.restartLsn ?? "-"],
      ["confirmed_flush_lsn", status.confirmedFlushLsn ?? "-"],
      ["wal_status", status.walStatus ?? "-"],
      ["retained WAL", bytesLine(status.retainedWalBytes)],
      ["lag", bytesLine(status.lagBytes)],
      // PostgreSQL 17+: whether standbys keep a copy (source.slot.failover), and whether this one is such a copy.
      ["failover", status.failover === null ? "- (PostgreSQL 16 or older)" : status.failover ? "yes" : "no"],
    );
    if (status.synced !== null) rows.push(["synced", status.synced ? `yes (a standby's copy${status.temporary === true ? ", temporary: not yet kept at promotion" : ""})` : "no"]);
  }
  rows.push(["current WAL LSN", status.currentLsn]);
  if (check !== undefined) {
    rows.push(["producer checkpoint", checkpointLine(check)]);
    if (check.read && !check.verdict.ok) rows.push(["slot ahead by", bytesLine(check.verdict.ahead.bytes)]);
  }
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  const table = rows.map(([k, v]) => `${k.padEnd(width)}${v}`).join("\n");
  return advice.length === 0 ? `${table}\n` : `${table}\n\n${advice.map((a) => `! ${a}`).join("\n")}\n`;
}

async function withSource<T>(options: SlotCommandOptions, fn: (client: Client, config: Config) => Promise<T>, config?: Config): Promise<T> {
  const cfg = config ?? (await loadConfig({ ...(options.config === undefined ? {} : { file: options.config }), env: process.env }));
  const client = await connect(cfg.source.url, { applicationName: "zeroloss-cli" });
  client.on("error", () => undefined);
  try {
    return await fn(client, cfg);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The producer's last checkpoint for this slot and database, and the verdict on `status`
 * against it. A Kafka failure is reported, not thrown: the slot's own facts still matter.
 */
/** The slot, then the producer's last checkpoint for it (compareSlotWithCheckpoint fixes the order). */
async function checkAgainstCheckpoint(client: Client, config: Config): Promise<{ status: SlotStatus; check: CheckpointCheck | undefined }> {
  const kafka = createKafka({ connection: config.kafka, clientId: `${config.kafka.clientId}-cli`, log: silentLogger() });
  const { slot, check } = await compareSlotWithCheckpoint(client, config.source.slot, (db) => readCheckpoint(kafka, topicNames(config.kafka.topicPrefix).checkpoints, config.source.slot, db));
  // A ZerolossError's message already carries its cause; its chain would repeat it.
  return { status: slot, check: check === undefined || check.read ? check : { read: false, error: isZerolossError(check.error) ? check.error.message : describeError(check.error) } };
}

/**
 * Exit 0: the slot exists and is usable; 1: it is missing or lost, or the producer's
 * checkpoint could not be read; 3 (EXIT_SLOT_AHEAD): it is ahead of the checkpoint.
 */
export async function slotStatusCommand(options: SlotCommandOptions & { readonly json: boolean }): Promise<number> {
  return withSource(options, async (client, config) => {
    const { status, check } = await checkAgainstCheckpoint(client, config);
    const usable = status.exists && status.walStatus !== "lost";
    const advice = slotAdvice(status, options, check);
    if (config.source.slotFailover && status.exists && status.failover === false) {
      advice.push(`source.slot.failover is true but slot ${status.slot} has failover off: standbys keep no copy of it yet. The producer turns it on at its next start.`);
    }
    if (options.json) {
      const checkpoint =
        check === undefined
          ? {}
          : check.read
            ? {
                checkpointPhase: check.checkpoint?.phase ?? null,
                checkpointLsn: checkpointBound(check.checkpoint),
                aheadBytes: check.verdict.ok ? null : check.verdict.ahead.bytes,
              }
            : { checkpointPhase: null, checkpointLsn: null, aheadBytes: null, checkpointError: check.error };
      process.stdout.write(`${JSON.stringify({ ...status, ...checkpoint, advice })}\n`);
    } else {
      process.stdout.write(formatSlotStatus(status, describeUrl(config.source.url), advice, check));
    }
    if (!usable || check === undefined || !check.read) return 1;
    return check.verdict.ok ? 0 : EXIT_SLOT_AHEAD;
  });
}

/** Exit 2 without --yes; 0 when dropped or already gone; SLOT_ACTIVE (exit 1) while a producer reads it. */
export async function slotDropCommand(options: SlotCommandOptions & { readonly yes: boolean }): Promise<number> {
  const config = await loadConfig({ ...(options.config === undefined ? {} : { file: options.config }), env: process.env });
  const slot = config.source.slot;
  if (!options.yes) {
    process.stderr.write(
      `zeroloss: refusing to drop replication slot ${slot} without --yes. Dropping it loses the position the producer ` +
        `streams from: changes made until a new slot exists are never read, so the producer must then re-snapshot every ` +
        `table (${resnapshotCommand(options)}). To go ahead: zeroloss slot drop --config ${configArg(options)} --yes\n`,
    );
    return 2;
  }
  return withSource(
    options,
    async (client) => {
      const source = describeUrl(config.source.url);
      if (await dropSlot(client, slot)) {
        process.stdout.write(
          `dropped replication slot ${slot} on ${source}. The next producer start needs a re-snapshot: ${resnapshotCommand(options)}\n`,
        );
      } else {
        process.stdout.write(`replication slot ${slot} does not exist on ${source}; nothing to drop\n`);
      }
      return 0;
    },
    config,
  );
}
