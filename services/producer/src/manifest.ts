// Accumulates one manifest: the records of a source transaction (or a snapshot chunk) per
// table, and a hash over their row checksums in order, for the counter's completeness check.
import { createHash, type Hash } from "node:crypto";
import type { Manifest } from "@zeroloss/wire";

export class ManifestBuilder {
  private readonly events: Record<string, number> = {};
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

  add(table: string, checksum: string | null): void {
    this.events[table] = (this.events[table] ?? 0) + 1;
    this.records++;
    if (checksum !== null && this.unhashed.push(checksum) >= 1024) this.flush();
  }

  private flush(): void {
    if (this.unhashed.length > 0) this.hash.update(this.unhashed.join(""), "hex");
    this.unhashed = [];
  }

  build(): Manifest {
    this.flush();
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
