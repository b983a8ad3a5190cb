// pgoutput's logical replication messages (protocol version 1, as PostgreSQL 15 sends
// them without in-progress streaming): bytes in, typed messages out, nothing else. Like
// node-postgres's pg-protocol, this file knows the wire format and no policy.
//
// Differences from pg-logical-replication's own parser, and why this one exists:
//   - values stay PostgreSQL's text output (no process-wide pg.types parsing: a
//     timestamptz would lose its microseconds, a numeric its digits);
//   - an unchanged TOAST value is the UNCHANGED marker, never undefined or null;
//   - the commit time keeps its microseconds (a bigint since 2000-01-01).
// https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
import { UNCHANGED, type CellValue } from "@zeroloss/checksum";
import { ZerolossError } from "@zeroloss/errors";
import type { Lsn } from "./lsn.js";

export interface RelationColumn {
  readonly name: string;
  /** Part of the replica identity (the key pgoutput sends for updates and deletes). */
  readonly key: boolean;
  readonly typeOid: number;
  readonly typeMod: number;
}

export interface RelationMessage {
  readonly tag: "relation";
  readonly relationOid: number;
  readonly schema: string;
  readonly name: string;
  readonly replicaIdentity: "default" | "nothing" | "full" | "index";
  readonly columns: readonly RelationColumn[];
}

export type Tuple = readonly CellValue[];

export interface BeginMessage {
  readonly tag: "begin";
  readonly finalLsn: Lsn;
  /** Microseconds since 2000-01-01 00:00 UTC. */
  readonly commitTime: bigint;
  readonly xid: number;
}
export interface CommitMessage {
  readonly tag: "commit";
  readonly commitLsn: Lsn;
  readonly endLsn: Lsn;
  readonly commitTime: bigint;
}
export interface InsertMessage {
  readonly tag: "insert";
  readonly relationOid: number;
  readonly newTuple: Tuple;
}
export interface UpdateMessage {
  readonly tag: "update";
  readonly relationOid: number;
  /** 'K': the old key (the key changed); 'O': the old row (REPLICA IDENTITY FULL); else null. */
  readonly oldKind: "K" | "O" | null;
  readonly oldTuple: Tuple | null;
  readonly newTuple: Tuple;
}
export interface DeleteMessage {
  readonly tag: "delete";
  readonly relationOid: number;
  readonly oldKind: "K" | "O";
  readonly oldTuple: Tuple;
}
export interface TruncateMessage {
  readonly tag: "truncate";
  readonly cascade: boolean;
  readonly restartIdentity: boolean;
  readonly relationOids: readonly number[];
}
export interface LogicalMessage {
  readonly tag: "message";
  readonly transactional: boolean;
  readonly lsn: Lsn;
  readonly prefix: string;
  readonly content: Buffer;
}
export interface TypeMessage {
  readonly tag: "type";
  readonly typeOid: number;
  readonly schema: string;
  readonly name: string;
}
export interface OriginMessage {
  readonly tag: "origin";
  readonly originLsn: Lsn;
  readonly name: string;
}

export type PgoutputMessage =
  | BeginMessage
  | CommitMessage
  | RelationMessage
  | InsertMessage
  | UpdateMessage
  | DeleteMessage
  | TruncateMessage
  | LogicalMessage
  | TypeMessage
  | OriginMessage;

// ignoreBOM: a value that starts with U+FEFF keeps it. The default would drop it silently,
// and the checksum, computed after decoding, could not tell (found by test/avro/edge-values).
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw protocolError(`message ends after ${this.buf.length} bytes, needed ${this.pos + n}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }
  i16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  i64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  cstring(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw protocolError("unterminated string");
    const s = utf8.decode(this.buf.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

function protocolError(message: string): ZerolossError {
  return new ZerolossError("PGOUTPUT_PROTOCOL", `pgoutput: ${message}`);
}

const IDENTITY = { d: "default", n: "nothing", f: "full", i: "index" } as const;

function tuple(r: Reader): CellValue[] {
  const n = r.i16();
  const values: CellValue[] = new Array<CellValue>(n);
  for (let i = 0; i < n; i++) {
    const kind = r.u8();
    if (kind === 0x74 /* t */) {
      const len = r.i32();
      values[i] = utf8.decode(r.bytes(len));
    } else if (kind === 0x6e /* n */) {
      values[i] = null;
    } else if (kind === 0x75 /* u */) {
      values[i] = UNCHANGED;
    } else if (kind === 0x62 /* b */) {
      throw protocolError("binary tuple data received; zeroloss requests text output (binary 'false')");
    } else {
      throw protocolError(`unknown tuple data kind 0x${kind.toString(16)}`);
    }
  }
  return values;
}

/** Parses one pgoutput message (the payload of an XLogData message). */
export function parsePgoutput(buf: Buffer): PgoutputMessage {
  const r = new Reader(buf);
  const tag = r.u8();
  switch (tag) {
    case 0x42 /* B */:
      return { tag: "begin", finalLsn: r.u64(), commitTime: r.i64(), xid: r.u32() };
    case 0x43 /* C */: {
      r.u8(); // flags, unused
      return { tag: "commit", commitLsn: r.u64(), endLsn: r.u64(), commitTime: r.i64() };
    }
    case 0x52 /* R */: {
      const relationOid = r.u32();
      const schema = r.cstring();
      const name = r.cstring();
      const ident = String.fromCharCode(r.u8());
      const replicaIdentity = IDENTITY[ident as keyof typeof IDENTITY];
      if (replicaIdentity === undefined) throw protocolError(`unknown replica identity ${ident}`);
      const count = r.i16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < count; i++) {
        const flags = r.u8();
        columns.push({ key: (flags & 1) === 1, name: r.cstring(), typeOid: r.u32(), typeMod: r.i32() });
      }
      return { tag: "relation", relationOid, schema, name, replicaIdentity, columns };
    }
    case 0x49 /* I */: {
      const relationOid = r.u32();
      const n = r.u8();
      if (n !== 0x4e) throw protocolError(`insert: expected 'N', got 0x${n.toString(16)}`);
      return { tag: "insert", relationOid, newTuple: tuple(r) };
    }
    case 0x55 /* U */: {
      const relationOid = r.u32();
      let sub = r.u8();
      let oldKind: "K" | "O" | null = null;
      let oldTuple: Tuple | null = null;
      if (sub === 0x4b || sub === 0x4f) {
        oldKind = sub === 0x4b ? "K" : "O";
        oldTuple = tuple(r);
        sub = r.u8();
      }
      if (sub !== 0x4e) throw protocolError(`update: expected 'N', got 0x${sub.toString(16)}`);
      return { tag: "update", relationOid, oldKind, oldTuple, newTuple: tuple(r) };
    }
    case 0x44 /* D */: {
      const relationOid = r.u32();
      const sub = r.u8();
      if (sub !== 0x4b && sub !== 0x4f) throw protocolError(`delete: expected 'K' or 'O', got 0x${sub.toString(16)}`);
      return { tag: "delete", relationOid, oldKind: sub === 0x4b ? "K" : "O", oldTuple: tuple(r) };
    }
    case 0x54 /* T */: {
      const count = r.u32();
      const flags = r.u8();
      const relationOids: number[] = [];
      for (let i = 0; i < count; i++) relationOids.push(r.u32());
      return { tag: "truncate", cascade: (flags & 1) === 1, restartIdentity: (flags & 2) === 2, relationOids };
    }
    case 0x4d /* M */: {
      const flags = r.u8();
      const lsn = r.u64();
      const prefix = r.cstring();
      const len = r.u32();
      return { tag: "message", transactional: (flags & 1) === 1, lsn, prefix, content: Buffer.from(r.bytes(len)) };
    }
    case 0x59 /* Y */:
      return { tag: "type", typeOid: r.u32(), schema: r.cstring(), name: r.cstring() };
    case 0x4f /* O */:
      return { tag: "origin", originLsn: r.u64(), name: r.cstring() };
    default:
      throw protocolError(
        `unsupported message '${String.fromCharCode(tag)}' (0x${tag.toString(16)}); zeroloss requests protocol version 1 without streaming`,
      );
  }
}

/** PostgreSQL's epoch (2000-01-01) in Unix microseconds. */
const PG_EPOCH_US = 946_684_800_000_000n;

/** ISO-8601 UTC with microseconds, e.g. 2026-11-21T10:00:00.123456Z. */
export function formatPgTimestamp(microsSince2000: bigint): string {
  const unixUs = microsSince2000 + PG_EPOCH_US;
  const ms = unixUs / 1000n;
  const micros = Number(((unixUs % 1_000_000n) + 1_000_000n) % 1_000_000n);
  const iso = new Date(Number(ms)).toISOString(); // ...ss.mmmZ
  return `${iso.slice(0, 19)}.${micros.toString().padStart(6, "0")}Z`;
}
