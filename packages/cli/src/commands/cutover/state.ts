// The cutover's record of itself, so that a cutover stopped half-way (a crash, a lost
// terminal, a step that failed and was fixed) is resumed, not begun again, and so that a fence
// it set is always known and can be lifted (`--abort`). One JSON file in the cutover's folder,
// rewritten whole (write, then rename) after every step.
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CounterRecord, SequenceEntry, VerifierRecord } from "@zeroloss/certificate";
import { ZerolossError } from "@zeroloss/errors";
import type { RoleFenceState } from "@zeroloss/pg";

export const STATE_VERSION = 1;
export const STEPS = ["preflight", "fence", "drain", "verify", "sequences", "constraints", "certificate"] as const;
export type Step = (typeof STEPS)[number];

export interface FenceRequest {
  readonly mode: "read-only" | "wait";
  readonly roles: readonly string[];
}

export interface CutoverState {
  readonly version: typeof STATE_VERSION;
  readonly startedAt: string;
  /** The configuration's fingerprint: a resume with another configuration is refused. */
  readonly configFingerprint: string;
  readonly rehearse: boolean;
  /** null in a rehearsal. */
  readonly fence: FenceRequest | null;
  /** read-only: the roles' settings before zeroloss fenced them, written before the fence is set. */
  fencedRoles?: RoleFenceState[];
  /** The fence's position once writes stopped (a rehearsal: the position it drains to). */
  fencePoint?: { readonly lsn: string; readonly at: string; readonly tableWrites: Readonly<Record<string, string>> };
  drain?: { readonly drainedAt: string; readonly counter: CounterRecord; readonly quarantined: number };
  verifier?: VerifierRecord;
  /** What the sequence sync found and did. */
  sequences?: SequenceEntry[];
  done: Partial<Record<Step, string>>;
  /** Set when the cutover ended: proven or not, and where its certificate is. */
  finished?: { readonly at: string; readonly proven: boolean; readonly problems: readonly string[]; readonly certificate: string | null; readonly html: string | null };
}

export function statePath(dir: string): string {
  return join(dir, "state.json");
}

export function readState(dir: string): CutoverState | null {
  const path = statePath(dir);
  if (!existsSync(path)) return null;
  let state: CutoverState;
  try {
    state = JSON.parse(readFileSync(path, "utf8")) as CutoverState;
  } catch (err) {
    throw new ZerolossError("CUTOVER_STATE_INVALID", `${path} cannot be read as a cutover's state: ${(err as Error).message}; move it away only if no fence it set is still in place`, { cause: err });
  }
  if (state.version !== STATE_VERSION) {
    throw new ZerolossError("CUTOVER_STATE_INVALID", `${path} is a cutover state of version ${String(state.version)}; this zeroloss reads version ${STATE_VERSION}`);
  }
  return state;
}

export function writeState(dir: string, state: CutoverState): void {
  const path = statePath(dir);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

/** Moves an ended or aborted cutover's state aside, so the folder can hold the next one. */
export function archiveState(dir: string, label: "aborted" | "rehearsal"): string {
  const to = join(dir, `state-${label}-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  renameSync(statePath(dir), to);
  return to;
}

/**
 * Takes the folder for this process: two cutovers (or a cutover and an --abort) at once would
 * each rewrite the state the other reads. A lock whose process is gone (a killed cutover) is
 * taken over. Returns the release.
 */
export function lockDir(dir: string): () => void {
  const path = join(dir, "cutover.lock");
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: "wx" });
      return () => {
        try {
          unlinkSync(path);
        } catch {
          // already gone: nothing to release
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw err;
    }
    const pid = Number(readFileSync(path, "utf8").trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new ZerolossError("CUTOVER_LOCKED", `another zeroloss cutover (pid ${pid}) is using ${dir}: wait for it, or stop it (Ctrl-C aborts it) first`, { details: { pid, dir } });
    }
    unlinkSync(path); // left by a cutover that was killed
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
