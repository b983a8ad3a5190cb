// Accumulates one manifest: the records of a source transaction (or a snapshot chunk) per
// table, and a hash over their row checksums in order, for the counter's completeness check.
// The partitions its records went to travel beside it to the Kafka writer, which adds the
// manifest's bounds (the offsets its records lie below) once its sends have landed.
import { createHash, type Hash } from "node:crypto";
import type { Manifest } from "@zeroloss/wire";

/** A manifest and the data partitions ("topic:partition") its records were sent to. */
export interface BuiltManifest {
  readonly manifest: Manifest;
  readonly partitions: ReadonlySet<string>;
}

export class ManifestBuilder {
  private readonly events: Record<string, number> = {};
  private readonly partitions = new Set<string>();
  private readonly hash: Hash = createHash("sha256");
  /** Checksums not yet hashed: one hash update per 1,024 instead of one per record. */
  private unhashed: string[] = [];
  records = 0;

  constructor(
    private readonly kind: Manifest["kind"],
    private readonly db: string,
    private readonly xid: number | null,
    private readonly commitLsn: string,
    private readonly commitTime: string,
  ) {}

  /** A record of `table` sent to `topic`'s `partition`. */
  add(table: string, topic: string, partition: number, checksum: string | null): void {
    this.events[table] = (this.events[table] ?? 0) + 1;
    this.partitions.add(`${topic}:${partition}`);
    this.records++;
    if (checksum !== null && this.unhashed.push(checksum) >= 1024) this.flush();
  }

  /** A bulk record of `table` sent to `topic`'s `partition`, carrying rows with these checksums (in order). */
  addBulk(table: string, topic: string, partition: number, checksums: readonly string[]): void {
    this.events[table] = (this.events[table] ?? 0) + 1;
    this.partitions.add(`${topic}:${partition}`);
    this.records++;
    this.flush();
    this.hash.update(checksums.join(""), "hex");
  }

  private flush(): void {
    if (this.unhashed.length > 0) this.hash.update(this.unhashed.join(""), "hex");
    this.unhashed = [];
  }

  build(): BuiltManifest {
    this.flush();
    return { manifest: this.manifest(), partitions: new Set(this.partitions) };
  }

  private manifest(): Manifest {
    return {
      v: 1,
      kind: this.kind,
      db: this.db,
      xid: this.xid,
      commitLsn: this.commitLsn,
      commitTime: this.commitTime,
      events: { ...this.events },
      records: this.records,
      hash: this.hash.digest("hex"),
    };
  }
}
