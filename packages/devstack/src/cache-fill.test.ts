// fillOnce: a cache folder appears complete or not at all, and is filled once.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fillOnce } from "./cache-fill.js";

describe("fillOnce", () => {
  it("fills once for concurrent callers of one process, and not again later", async () => {
    const root = mkdtempSync(join(tmpdir(), "zl-fill-"));
    const folder = join(root, "thing");
    let fills = 0;
    const fill = async (tmp: string) => {
      fills++;
      await new Promise((r) => setTimeout(r, 20));
      writeFileSync(join(tmp, "done"), "yes");
    };
    await Promise.all([fillOnce(folder, "done", fill), fillOnce(folder, "done", fill), fillOnce(folder, "done", fill)]);
    await fillOnce(folder, "done", fill);
    expect(fills).toBe(1);
    expect(readFileSync(join(folder, "done"), "utf8")).toBe("yes");
    expect(readdirSync(root)).toEqual(["thing"]); // no private folder left
  });

  it("leaves nothing when the fill fails or does not produce the proof", async () => {
    const root = mkdtempSync(join(tmpdir(), "zl-fill-"));
    const folder = join(root, "thing");
    await expect(fillOnce(folder, "done", async () => Promise.reject(new Error("Maven Central unreachable")))).rejects.toThrow("Maven Central unreachable");
    await expect(fillOnce(folder, "done", async (tmp) => writeFileSync(join(tmp, "other"), ""))).rejects.toThrow(/done is missing after the fill/);
    expect(existsSync(folder)).toBe(false);
    expect(readdirSync(root)).toEqual([]);
  });

  it("keeps the winner's folder when another process filled it meanwhile", async () => {
    const root = mkdtempSync(join(tmpdir(), "zl-fill-"));
    const folder = join(root, "thing");
    await fillOnce(folder, "done", async (tmp) => {
      writeFileSync(join(tmp, "done"), "mine");
      // Another process finishes first (its rename lands before ours).
      const { mkdirSync } = await import("node:fs");
      mkdirSync(folder);
      writeFileSync(join(folder, "done"), "theirs");
      writeFileSync(join(folder, "extra"), "");
    });
    expect(readFileSync(join(folder, "done"), "utf8")).toBe("theirs");
    expect(readdirSync(root)).toEqual(["thing"]);
  });
});
