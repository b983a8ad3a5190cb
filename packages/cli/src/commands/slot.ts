// `zeroloss slot status | drop`: the source's logical replication slot, read and removed
// with the same code the producer uses (@zeroloss/pg), with plain advice on what to do.
import { loadConfig, type Config } from "@zeroloss/config";
import { connect, describeUrl, dropSlot, slotStatus, type Client, type SlotStatus } from "@zeroloss/pg";

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
export function slotAdvice(status: SlotStatus, options: SlotCommandOptions): string[] {
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
  if (!status.active) {
    advice.push(`No process is reading the slot (active: no): WAL accumulates on the source until the producer runs (zeroloss producer --config ${configArg(options)}).`);
  }
  return advice;
}

function bytesLine(bytes: number | null): string {
  return bytes === null ? "-" : `${humanBytes(bytes)} (${bytes} bytes)`;
}

export function formatSlotStatus(status: SlotStatus, source: string, advice: readonly string[]): string {
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
    );
  }
  rows.push(["current WAL LSN", status.currentLsn]);
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

/** Exit 0: the slot exists and is usable; 1: it is missing or lost. */
export async function slotStatusCommand(options: SlotCommandOptions & { readonly json: boolean }): Promise<number> {
  return withSource(options, async (client, config) => {
    const status = await slotStatus(client, config.source.slot);
    const advice = slotAdvice(status, options);
    process.stdout.write(options.json ? `${JSON.stringify({ ...status, advice })}\n` : formatSlotStatus(status, describeUrl(config.source.url), advice));
    return status.exists && status.walStatus !== "lost" ? 0 : 1;
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
