// The counter's look at the replication slot (DESIGN.md invariant 10): every
// counter.slotCheckSeconds it reads the slot and then the producer's last checkpoint
// (compareSlotWithCheckpoint fixes that order, so a running producer is never reported
// ahead) and keeps the verdict for /api/summary, `zeroloss status` and the metrics. A slot
// ahead of the checkpoint is a proven gap: PostgreSQL streams from the slot, so the changes
// between were never read, and no window or transaction of the ledger can show it. A source
// or Kafka the counter cannot reach leaves the state "unknown", never a problem.
import type { Config } from "@zeroloss/config";
import { describeError } from "@zeroloss/errors";
import { readCheckpoint } from "@zeroloss/kafka";
import { compareSlotWithCheckpoint, connect, describeSlotAhead } from "@zeroloss/pg";
import { topicNames, type SlotState } from "@zeroloss/wire";
import type { Kafka } from "kafkajs";
import type { Logger } from "pino";

/** The newest checkpoint is among the checkpoints topic's last records (one per Kafka transaction). */
const CHECKPOINT_TAIL = 200;

export class SlotWatch {
  private current: SlotState;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly o: { readonly config: Config; readonly kafka: Kafka; readonly log: Logger }) {
    this.current = { state: o.config.counter.slotCheckSeconds === 0 ? "off" : "unknown", slot: o.config.source.slot, detail: null, aheadBytes: 0, checkedAt: null };
  }

  get state(): SlotState {
    return this.current;
  }

  start(): void {
    const every = this.o.config.counter.slotCheckSeconds;
    if (every === 0) return;
    const tick = (): void => {
      this.running ??= this.check().finally(() => (this.running = null));
    };
    tick();
    this.timer = setInterval(tick, every * 1000);
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One comparison; its failures become state "unknown", with why. */
  async check(): Promise<void> {
    const { config } = this.o;
    const slotName = config.source.slot;
    const at = new Date().toISOString();
    let client;
    try {
      client = await connect(config.source.url, { applicationName: "zeroloss-counter-slot-check" });
    } catch (err) {
      this.unknown(`the source cannot be reached to read the slot: ${describeError(err)}`, at);
      return;
    }
    try {
      const { slot, check } = await compareSlotWithCheckpoint(client, slotName, (db) =>
        readCheckpoint(this.o.kafka, topicNames(config.kafka.topicPrefix).checkpoints, slotName, db, { lastRecords: CHECKPOINT_TAIL }),
      );
      if (check === undefined) {
        this.unknown(slot.exists ? `replication slot ${slotName} is lost (wal_status=lost)` : `replication slot ${slotName} does not exist`, at);
      } else if (!check.read) {
        this.unknown(`the producer's checkpoint could not be read: ${describeError(check.error)}`, at);
      } else if (check.verdict.ok) {
        this.current = { state: "ok", slot: slotName, detail: null, aheadBytes: 0, checkedAt: at };
      } else {
        const problem = `SLOT_AHEAD_OF_CHECKPOINT: ${describeSlotAhead(slotName, check.verdict.ahead)}`;
        if (this.current.state !== "ahead") this.o.log.error({ slot: slotName, confirmedFlushLsn: check.verdict.ahead.slot, checkpointLsn: check.verdict.ahead.checkpoint }, problem);
        this.current = { state: "ahead", slot: slotName, detail: problem, aheadBytes: check.verdict.ahead.bytes, checkedAt: at };
      }
    } catch (err) {
      this.unknown(`the slot could not be read: ${describeError(err)}`, at);
    } finally {
      await client.end().catch(() => undefined); // closing after the check: nothing to report
    }
  }

  private unknown(why: string, at: string): void {
    if (this.current.state === "ahead") {
      // A proven gap stays until a check says otherwise: a failed check does not make it OK.
      this.o.log.debug({ why }, "the slot check could not run; the slot stays reported ahead");
      return;
    }
    if (this.current.state !== "unknown" || this.current.detail !== why) this.o.log.debug({ why }, "the slot check could not decide");
    // Not a problem: the counter cannot see; the detail says why.
    this.current = { state: "unknown", slot: this.o.config.source.slot, detail: why, aheadBytes: 0, checkedAt: at };
  }
}
