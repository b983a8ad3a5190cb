// Database group commit for kafkajs's eachBatch (database transactions, not Kafka ones):
// the partition batches kafkajs hands over at the same time
// (partitionsConsumedConcurrently) are written to a database together, in as few
// transactions as they allow, at most `slots` at once. The consumer (target transactions)
// and the counter (ledger transactions) both use it: a producer's Kafka transaction touches
// every partition, and one database transaction per partition batch of a few records was
// most of the database's work at a steady rate (bench/README.md, "End to end").
//
// A batch waits until a slot is free; the slot takes every waiting batch that may join
// (`group().join`). When a transaction of several batches fails and `isolate(err)` says a
// retry would not cure it, each batch is tried alone, so only the one at fault fails.

export interface DatabaseGroupCommitOptions<B, R> {
  /** Transactions at once. */
  readonly slots: number;
  /** How long the first waiting batch waits for others before a transaction takes them (0: the current turn of the event loop only). */
  readonly lingerMs?: number;
  /** A fresh joiner per transaction: join(b) true takes b into it (it then counts b as in). */
  readonly group: () => { join(batch: B): boolean };
  /** Writes the batches in one transaction; one result per batch, in order. */
  readonly commit: (batches: readonly B[]) => Promise<R[]>;
  /** Whether a failure of a transaction of several batches is worth trying batch by batch. */
  readonly isolate: (err: unknown, batches: number) => boolean;
  /** false when a waiting batch should not be written any more (its partition went elsewhere). */
  readonly live?: (batch: B) => boolean;
}

interface Waiting<B, R> {
  readonly batch: B;
  readonly resolve: (r: R | null) => void;
  readonly reject: (err: unknown) => void;
}

export class DatabaseGroupCommit<B, R> {
  private pending: Waiting<B, R>[] = [];
  private running = 0;
  private scheduled = false;

  constructor(private readonly o: DatabaseGroupCommitOptions<B, R>) {}

  /** The batch's result once its transaction committed; null when it was not written (not live); rejects with the transaction's error. */
  write(batch: B): Promise<R | null> {
    return new Promise((resolve, reject) => {
      this.pending.push({ batch, resolve, reject });
      this.schedule();
    });
  }

  // After the current turn of the event loop (the batches kafkajs starts together arrive
  // together, and join one transaction), or after lingerMs.
  private schedule(): void {
    if (this.scheduled || this.running >= this.o.slots || this.pending.length === 0) return;
    this.scheduled = true;
    const linger = this.o.lingerMs ?? 0;
    const later = (fn: () => void) => (linger > 0 ? void setTimeout(fn, linger) : void setImmediate(fn));
    later(() => {
      this.scheduled = false;
      while (this.running < this.o.slots && this.pending.length > 0) {
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

  /** The waiting batches one transaction takes, in arrival order; the others keep waiting. */
  private take(): Waiting<B, R>[] {
    const joiner = this.o.group();
    const group: Waiting<B, R>[] = [];
    const rest: Waiting<B, R>[] = [];
    for (const w of this.pending) {
      if (this.o.live !== undefined && !this.o.live(w.batch)) w.resolve(null);
      else if (joiner.join(w.batch)) group.push(w);
      else rest.push(w);
    }
    this.pending = rest;
    return group;
  }

  private async run(group: readonly Waiting<B, R>[]): Promise<void> {
    let results: R[];
    try {
      results = await this.o.commit(group.map((w) => w.batch));
    } catch (err) {
      if (group.length > 1 && this.o.isolate(err, group.length)) {
        for (const w of group) await this.run([w]);
      } else {
        for (const w of group) w.reject(err);
      }
      return;
    }
    if (results.length !== group.length) {
      const err = new Error(`a group commit returned ${results.length} results for ${group.length} batches`);
      for (const w of group) w.reject(err);
      return;
    }
    group.forEach((w, i) => w.resolve(results[i] as R));
  }
}
