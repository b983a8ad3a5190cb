// Fills a folder of the cache once (resolved jars, an unpacked registry), so that every later
// run finds it complete: the content is made in a private folder beside it and renamed into
// place. Two processes filling at once (parallel test workers) never see a half-filled
// folder; the loser of the race drops its copy.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";

/**
 * Returns once `folder` holds `proof` (a path inside it that only a complete fill has),
 * calling `fill(tmp)` to make the content in a fresh private folder when it does not.
 */
export async function fillOnce(folder: string, proof: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  if (existsSync(join(folder, proof))) return;
  // Callers in one process share one fill.
  let filling = inFlight.get(folder);
  if (filling === undefined) {
    filling = fillInto(folder, proof, fill).finally(() => inFlight.delete(folder));
    inFlight.set(folder, filling);
  }
  return filling;
}

const inFlight = new Map<string, Promise<void>>();

async function fillInto(folder: string, proof: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(folder), { recursive: true });
  const tmp = `${folder}.fill-${process.pid}-${randomBytes(4).toString("hex")}`;
  await mkdir(tmp, { recursive: true });
  try {
    await fill(tmp);
    if (!existsSync(join(tmp, proof))) throw new Error(`filling ${folder}: ${proof} is missing after the fill`);
    try {
      await rename(tmp, folder);
    } catch (err) {
      // Another process won the race; its folder is complete, because rename is atomic.
      if (!existsSync(join(folder, proof))) throw err;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
