// The consumer's target transactions: partition batches handed over together by kafkajs
// share one (DatabaseGroupCommit, packages/kafka) when they may: another partition, no key in
// common, no truncate (GroupKeys). At most `transactions` run at once, each on its own
// connection; the Kafka offsets of its batches are committed after it, in one request. A
// shared transaction that fails for a reason retrying cannot cure is tried
// batch by batch, so only the partition at fault stops and the others go on.
import { DatabaseGroupCommit } from "@zeroloss/kafka";
import { serviceError } from "@zeroloss/pg";
import type { Logger } from "pino";
import { applyBatches, type BatchContext, type BatchResult, type PartitionBatch, type TargetConnection } from "./target-transaction.js";
import { GroupKeys } from "./batch.js";

export interface ApplierOptions {
  readonly ctx: BatchContext;
  /** Target transactions at once (each on its own connection). */
  readonly transactions: number;
  /** A transaction takes more batches only while their records' bytes stay below this (its first always joins). */
  readonly maxBytes: number;
  readonly acquire: () => Promise<TargetConnection>;
  readonly release: (conn: TargetConnection) => void;
  /** Called for each committed transaction: its partition batches and seconds. */
  readonly observe: (batches: number, seconds: number) => void;
  /** After the target commit: commits the batches' Kafka offsets in one request; false when that failed (and was logged). */
  readonly commitOffsets: (batches: readonly PartitionBatch[]) => Promise<boolean>;
  readonly log: Logger;
}

/** A batch to apply; `live()` false once its partition went elsewhere (it is then not applied here). */
export interface Submitted extends PartitionBatch {
  readonly live: () => boolean;
}

export interface Applied {
  readonly result: BatchResult;
  /** false: applied in the target, but its Kafka offsets are not committed (a rebalance); the records will be read again and found applied. */
  readonly offsetsCommitted: boolean;
}

export class Applier {
  private readonly commits: DatabaseGroupCommit<Submitted, Applied>;

  constructor(private readonly o: ApplierOptions) {
    this.commits = new DatabaseGroupCommit({
      slots: o.transactions,
      group: () => {
        const keys = new GroupKeys();
        const partitions = new Set<string>();
        let bytes = 0;
        return {
          join: (b: Submitted) => {
            const p = `${b.topic}:${b.partition}`;
            const size = b.plan.records.reduce((n, r) => n + (r.value?.length ?? 0), 0);
            // Bounded, so that a catch-up's full fetches do not all meet in one transaction's memory.
            if (partitions.size > 0 && bytes + size > o.maxBytes) return false;
            if (partitions.has(p) || !keys.join(b.plan)) return false;
            partitions.add(p);
            bytes += size;
            return true;
          },
        };
      },
      commit: (batches) => this.transaction(batches),
      isolate: (err, batches) => {
        const e = serviceError(err, "applying batches");
        if (e.retriable) return false;
        this.o.log.warn({ batches, code: e.code, err: e.message }, "a transaction of several partitions' batches failed; applying each alone to find the one at fault");
        return true;
      },
      live: (b) => b.live(),
    });
  }

  /** The batch's result once applied (with others where it can be); null when its partition went elsewhere first. */
  apply(batch: Submitted): Promise<Applied | null> {
    return this.commits.write(batch);
  }

  private async transaction(batches: readonly Submitted[]): Promise<Applied[]> {
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
    const offsetsCommitted = await this.o.commitOffsets(batches);
    return results.map((result) => ({ result, offsetsCommitted }));
  }
}
