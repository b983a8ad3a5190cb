// pgoutput bytes → typed messages, built by hand from the documented message formats
// (PostgreSQL 15, "Logical Replication Message Formats").
import { describe, expect, it } from "vitest";
import { UNCHANGED } from "@zeroloss/checksum";
import { formatLsn, parseLsn } from "./lsn.js";
import { formatPgTimestamp, parsePgoutput } from "./pgoutput.js";

const u8 = (n: number) => Buffer.from([n]);
const i16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
const cstr = (s: string) => Buffer.concat([Buffer.from(s, "utf8"), u8(0)]);
const text = (s: string) => Buffer.concat([u8(0x74), i32(Buffer.byteLength(s)), Buffer.from(s, "utf8")]);

describe("parsePgoutput", () => {
  it("reads begin and commit with their LSNs and microsecond commit time", () => {
    const begin = parsePgoutput(Buffer.concat([u8(0x42), u64(0x1_0000_00a0n), u64(123_456_789n), i32(771)]));
    expect(begin).toEqual({ tag: "begin", finalLsn: 0x1_0000_00a0n, commitTime: 123_456_789n, xid: 771 });
    const commit = parsePgoutput(Buffer.concat([u8(0x43), u8(0), u64(0x1_0000_00a0n), u64(0x1_0000_00d8n), u64(5n)]));
    expect(commit).toEqual({ tag: "commit", commitLsn: 0x1_0000_00a0n, endLsn: 0x1_0000_00d8n, commitTime: 5n });
  });

  it("reads a relation with key flags, type oids and typmods", () => {
    const rel = parsePgoutput(
      Buffer.concat([u8(0x52), i32(16384), cstr("public"), cstr("Mixed Case"), u8(0x64), i16(2), u8(1), cstr("id"), i32(20), i32(-1), u8(0), cstr("amount"), i32(1700), i32(1179652)]),
    );
    expect(rel).toEqual({
      tag: "relation",
      relationOid: 16384,
      schema: "public",
      name: "Mixed Case",
      replicaIdentity: "default",
      columns: [
        { key: true, name: "id", typeOid: 20, typeMod: -1 },
        { key: false, name: "amount", typeOid: 1700, typeMod: 1179652 },
      ],
    });
  });

  it("keeps text values as sent, NULL as null and an unchanged TOAST value as the UNCHANGED marker", () => {
    const insert = parsePgoutput(Buffer.concat([u8(0x49), i32(16384), u8(0x4e), i16(3), text("2026-01-01 00:00:00.123456+00"), u8(0x6e), text("")]));
    expect(insert).toEqual({ tag: "insert", relationOid: 16384, newTuple: ["2026-01-01 00:00:00.123456+00", null, ""] });
    const update = parsePgoutput(Buffer.concat([u8(0x55), i32(16384), u8(0x4b), i16(2), text("1"), u8(0x6e), u8(0x4e), i16(2), text("2"), u8(0x75)]));
    expect(update).toEqual({ tag: "update", relationOid: 16384, oldKind: "K", oldTuple: ["1", null], newTuple: ["2", UNCHANGED] });
  });

  it("keeps a leading byte order mark (U+FEFF) of a text value, and of every name", () => {
    const bom = "\uFEFFbom and \u200Bzero width";
    expect(parsePgoutput(Buffer.concat([u8(0x49), i32(1), u8(0x4e), i16(1), text(bom)]))).toEqual({ tag: "insert", relationOid: 1, newTuple: [bom] });
    const rel = parsePgoutput(Buffer.concat([u8(0x52), i32(1), cstr("\uFEFFs"), cstr("\uFEFFt"), u8(0x64), i16(1), u8(1), cstr("\uFEFFc"), i32(25), i32(-1)]));
    expect(rel).toMatchObject({ schema: "\uFEFFs", name: "\uFEFFt", columns: [{ name: "\uFEFFc" }] });
  });

  it("reads deletes, truncates and logical messages", () => {
    expect(parsePgoutput(Buffer.concat([u8(0x44), i32(7), u8(0x4b), i16(1), text("9")]))).toEqual({ tag: "delete", relationOid: 7, oldKind: "K", oldTuple: ["9"] });
    expect(parsePgoutput(Buffer.concat([u8(0x54), i32(2), u8(3), i32(7), i32(8)]))).toEqual({ tag: "truncate", cascade: true, restartIdentity: true, relationOids: [7, 8] });
    const m = parsePgoutput(Buffer.concat([u8(0x4d), u8(1), u64(42n), cstr("zeroloss.heartbeat"), i32(2), Buffer.from("hi")]));
    expect(m).toMatchObject({ tag: "message", transactional: true, lsn: 42n, prefix: "zeroloss.heartbeat" });
  });

  it("refuses what it cannot read, with a protocol error code", () => {
    expect(() => parsePgoutput(Buffer.from([0x53]))).toThrow(expect.objectContaining({ code: "PGOUTPUT_PROTOCOL" }));
    expect(() => parsePgoutput(Buffer.concat([u8(0x49), i32(1), u8(0x4e), i16(1), u8(0x62), i32(1), u8(1)]))).toThrow(/binary/);
    expect(() => parsePgoutput(Buffer.concat([u8(0x42), u64(1n)]))).toThrow(/ends after/);
  });
});

describe("LSNs and timestamps", () => {
  it("compares LSNs as 64-bit numbers, never as strings", () => {
    expect(parseLsn("0/A0000000") > parseLsn("0/9FFFFFFF")).toBe(true);
    expect(parseLsn("1/0") > parseLsn("0/FFFFFFFF")).toBe(true);
    expect(formatLsn(parseLsn("16/B374D848"))).toBe("16/B374D848");
    expect(() => parseLsn("16-B3")).toThrow(RangeError);
  });

  it("formats PostgreSQL commit times with microseconds, UTC", () => {
    expect(formatPgTimestamp(0n)).toBe("2000-01-01T00:00:00.000000Z");
    expect(formatPgTimestamp(1_000_001n)).toBe("2000-01-01T00:00:01.000001Z");
  });
});
