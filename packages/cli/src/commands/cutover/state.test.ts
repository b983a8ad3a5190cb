import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { lockDir } from "./state.js";

describe("the cutover folder's lock", () => {
  const dir = mkdtempSync(join(tmpdir(), "zeroloss-cutover-lock-"));
  const lock = join(dir, "cutover.lock");
  afterEach(() => rmSync(lock, { force: true }));

  it("is taken with this process's pid and released", () => {
    const release = lockDir(dir);
    expect(readFileSync(lock, "utf8").trim()).toBe(String(process.pid));
    release();
    expect(existsSync(lock)).toBe(false);
  });

  it("refuses while another live process holds it, naming its pid", () => {
    writeFileSync(lock, `${process.ppid}\n`);
    expect(() => lockDir(dir)).toThrow(expect.objectContaining({ code: "CUTOVER_LOCKED", message: expect.stringContaining(`pid ${process.ppid}`) }));
  });

  it("takes over a lock left by a process that is gone", () => {
    writeFileSync(lock, `${2 ** 31 - 1}\n`);
    const release = lockDir(dir);
    expect(readFileSync(lock, "utf8").trim()).toBe(String(process.pid));
    release();
  });
});
