// Step 2 of the cutover: stop the writes and find the position they stopped at. read-only:
// the roles' settings are recorded in the state before they are changed (so a crash in
// between still knows what to restore), then the source refuses their writes; wait: the
// operator stops the writers. Either way the fence LSN is taken once no write is in progress
// and the tables' write counters stand still. A rehearsal takes the current position and fences nothing.
import { describeWriter, fenceRoles, query, readRoleFenceState, readTableWrites, unfenceRoles, waitForWritesToStop, type Client, type TableName } from "@zeroloss/pg";
import { isZerolossError } from "@zeroloss/errors";
import type { ProgressLines } from "../progress-lines.js";
import type { CutoverState } from "./state.js";

export interface FenceContext {
  readonly source: Client;
  readonly state: CutoverState;
  readonly tables: readonly TableName[];
  readonly quietMs: number;
  readonly timeoutMs: number;
  readonly progress: ProgressLines;
  readonly save: () => void;
  readonly stopped: () => boolean;
}

export async function fenceStep(c: FenceContext): Promise<void> {
  const { source, state, progress } = c;
  if (state.fence === null) {
    const [row] = await query<{ lsn: string }>(source, "reading the source's current WAL position", "SELECT pg_current_wal_lsn()::text AS lsn");
    state.fencePoint = { lsn: row?.lsn ?? "0/0", at: new Date().toISOString(), tableWrites: await readTableWrites(source, c.tables) };
    progress.line(`rehearsal: no fence; draining to the source's current position ${state.fencePoint.lsn}`);
    return;
  }
  if (state.fence.mode === "read-only") {
    if (state.fencedRoles === undefined) {
      state.fencedRoles = await readRoleFenceState(source, state.fence.roles);
      c.save();
    }
    let fenced: Awaited<ReturnType<typeof fenceRoles>>;
    try {
      fenced = await fenceRoles(source, state.fence.roles);
    } catch (err) {
      // Refused before anything changed (a privilege, a role): no fence to remember or lift.
      if (isZerolossError(err) && err.code.startsWith("FENCE_")) {
        delete state.fencedRoles;
        c.save();
      }
      throw err;
    }
    const terminated = fenced.reduce((a, f) => a + f.terminated, 0);
    progress.line(
      `fence: the source refuses writes from ${state.fence.roles.join(", ")} (default_transaction_read_only on for them in this database); ` +
        `${terminated} open session(s) of theirs ended`,
    );
  } else {
    progress.line("fence: waiting for the operator's writers to stop (no open write transaction, no table's write counter moving)");
  }
  let last = 0;
  const point = await waitForWritesToStop(source, {
    tables: c.tables,
    quietMs: c.quietMs,
    timeoutMs: c.timeoutMs,
    stopped: c.stopped,
    onProgress: (p) => {
      if (Date.now() - last < 5000) return;
      last = Date.now();
      const going = [...p.writers.map(describeWriter), ...p.movedTables.map((t) => `${t} written`)];
      progress.line(
        going.length === 0
          ? `  no write seen for ${(p.quietForMs / 1000).toFixed(0)} s of the ${c.quietMs / 1000} s asked for`
          : `  writes still going on: ${going.slice(0, 5).join("; ")}${going.length > 5 ? ` (and ${going.length - 5} more)` : ""}`,
      );
    },
  });
  state.fencePoint = { lsn: point.lsn, at: point.at.toISOString(), tableWrites: point.tableWrites };
  progress.line(`writes stopped: fence LSN ${point.lsn} at ${state.fencePoint.at}`);
}

/** Lifts a read-only fence this cutover set (nothing to do for wait or a rehearsal); true when it did. */
export async function liftFence(source: Client, state: CutoverState): Promise<boolean> {
  if (state.fencedRoles === undefined || state.fencedRoles.length === 0) return false;
  await unfenceRoles(source, state.fencedRoles);
  return true;
}

/** The tables whose write counters moved since the fence (writes that slipped past it). */
export async function writesSinceFence(source: Client, state: CutoverState, tables: readonly TableName[]): Promise<string[]> {
  const then = state.fencePoint?.tableWrites ?? {};
  const now = await readTableWrites(source, tables);
  return Object.keys(now).filter((t) => now[t] !== then[t]);
}
