// Group commit for the target: the partition batches kafkajs hands to the consumer at the
// same time are applied together, in as few target transactions as they allow, at most
// `targetTransactions` at once. One small transaction per partition batch was most of the
// target's work at a steady rate (bench/README.md, "End to end"): a Kafka transaction of
// the producer touches every partition, so each one became 18 target transactions of a few
// rows each.
//
// A batch waits in `pending` until a transaction slot is free; the slot takes every waiting
// batch that can join (GroupKeys: another partition, no shared key, no truncate). When a
// transaction of several batches fails for a reason retrying cannot cure, each of its
// batches is tried alone, so only the partition at fault stops and the others go on.
import { serviceError } from "@zeroloss/pg";
import type { Logger } from "pino";
import { applyBatches, type BatchContext, type BatchResult, type PartitionBatch, type TargetConnection } from "./apply.js";
import { GroupKeys } from "./batch.js";

export interface ApplierOptions {
  readonly ctx: BatchContext;
  /** Target transactions at once (each on its own connection). */
  readonly transactions: number;
  readonly acquire: () => Promise<TargetConnection>;
  readonly release: (conn: TargetConnection) => void;
  /** Called with the size of each committed transaction, in batches and seconds. */
  readonly observe: (batches: number, seconds: number) => void;
  readonly log: Logger;
}

/** A batch to apply; `live()` false once its partition went elsewhere (it is then not applied here). */
export interface Submitted extends PartitionBatch {
  readonly live: () => boolean;
}

/** null: not applied, as the partition is no longer this process's. */
export type Applied = BatchResult | null;

interface Waiting {
  readonly batch: Submitted;
  readonly resolve: (r: Applied) => void;
  readonly reject: (err: unknown) => void;
}

export class Applier {
  private pending: Waiting[] = [];
  private running = 0;
  private scheduled = false;

  constructor(private readonly o: ApplierOptions) {}

  /** Applies the batch, with others where it can; rejects with the error of its transaction. */
  apply(batch: Submitted): Promise<Applied> {
    return new Promise((resolve, reject) => {
      this.pending.push({ batch, resolve, reject });
      this.schedule();
    });
  }

  // After the current turn of the event loop: the batches kafkajs starts together arrive
  // together, and join one transaction.
  private schedule(): void {
    if (this.scheduled || this.running >= this.o.transactions || this.pending.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.running < this.o.transactions && this.pending.length > 0) {
        const group = this.take();
        if (group.length === 0) continue;
        this.running++;
        void this.run(group).finally(() => {
          this.running--;
          this.schedule();
        });
      }
    });
  }

  /** The waiting batches one transaction can take, in arrival order; the others keep waiting. */
  private take(): Waiting[] {
    const keys = new GroupKeys();
    const partitions = new Set<string>();
    const group: Waiting[] = [];
    const rest: Waiting[] = [];
    for (const w of this.pending) {
      const p = `${w.batch.topic}:${w.batch.partition}`;
      if (!w.batch.live()) w.resolve(null);
      else if (!partitions.has(p) && keys.join(w.batch.plan)) {
        partitions.add(p);
        group.push(w);
      } else rest.push(w);
    }
    this.pending = rest;
    return group;
  }

  private async run(group: readonly Waiting[]): Promise<void> {
    try {
      const results = await this.transaction(group.map((w) => w.batch));
      group.forEach((w, i) => w.resolve(results[i] ?? null));
    } catch (err) {
      if (group.length === 1 || serviceError(err, "applying batches").retriable) {
        for (const w of group) w.reject(err);
        return;
      }
      this.o.log.warn({ batches: group.length, err: serviceError(err, "applying batches").message }, "a transaction of several partitions' batches failed; applying each alone to find the one at fault");
      for (const w of group) await this.run([w]);
    }
  }

  private async transaction(batches: readonly Submitted[]): Promise<BatchResult[]> {
    const conn = await this.o.acquire();
    const started = performance.now();
    let results: BatchResult[];
    try {
      results = await applyBatches(conn, batches, this.o.ctx);
    } catch (err) {
      await conn.client.end().catch(() => undefined); // its state is unknown after a failure: a fresh one next time
      throw err;
    }
    this.o.release(conn);
    this.o.observe(batches.length, (performance.now() - started) / 1000);
    return results;
  }
}
