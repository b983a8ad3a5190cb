// Poll for a condition with a deadline: the only way this code base waits for anything.
// Lives beside the error class because every package needs it and nothing else.
import { ZerolossError } from "./error.js";

export interface PollOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** Named in the timeout error. */
  readonly what: string;
  /** Checked before every attempt; throw to give up early (a process that died). */
  readonly abortIf?: () => void;
}

/** Calls `attempt` until it returns a value other than undefined, or the deadline passes. */
export async function pollUntil<T>(attempt: () => Promise<T | undefined>, options: PollOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 200;
  let lastError: unknown;
  for (;;) {
    options.abortIf?.();
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? `: last error: ${lastError.message}` : "";
      throw new ZerolossError("TIMEOUT", `timed out after ${options.timeoutMs} ms waiting for ${options.what}${why}`, { cause: lastError });
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/**
 * `work`, or a TIMEOUT error once `ms` pass: for a step that is one proof among others and must
 * not hold up the loop it runs in. Past the deadline `work` goes on unobserved; its outcome,
 * failure included, is no longer anybody's.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ZerolossError("TIMEOUT", `${what} took over ${ms} ms; given up`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined); // past the deadline: reported as TIMEOUT above, not as an unhandled rejection
  }
}
