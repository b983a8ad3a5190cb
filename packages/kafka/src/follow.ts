// A consumer group that follows a changing set of topics: the consumer (data topics) and
// the counter (data, tallies, manifests) list the topics they want every `pollMs`, and
// leave and rejoin the group with the new subscription when the set changes (a table added
// at the source gets its topic later). Retriable failures back off; others end the loop.
import type { Backoff, Sleeper, ZerolossError } from "@zeroloss/errors";

export interface FollowTopicsOptions {
  /** The topics wanted now, sorted. */
  readonly wanted: () => Promise<string[]>;
  /** Joins the group subscribed to `topics` and starts consuming. */
  readonly start: (topics: string[]) => Promise<void>;
  /** Leaves the group (a no-op when not in it). */
  readonly stop: () => Promise<void>;
  /** While true, the loop goes on. */
  readonly running: () => boolean;
  readonly sleeper: Sleeper;
  /** Between failed attempts; reset once the group is joined. */
  readonly retry: Backoff;
  readonly pollMs: number;
  /** Turns a failure into a ZerolossError (and counts or logs it); `what` says what failed. */
  readonly noteError: (err: unknown, what: string) => ZerolossError;
  /** Called when none of the wanted topics exists yet. */
  readonly onNoTopics: () => void;
  /** Names the group in errors: "the consumer group". */
  readonly groupName: string;
}

/** Runs until `running()` turns false; throws a non-retriable failure. The caller leaves the group afterwards. */
export async function followTopics(o: FollowTopicsOptions): Promise<void> {
  const { retry } = o;
  let subscribed: string[] = [];
  while (o.running()) {
    let wanted: string[];
    try {
      wanted = await o.wanted();
    } catch (err) {
      const e = o.noteError(err, "listing the topics");
      if (!e.retriable) throw e;
      await o.sleeper.sleep(retry.next());
      continue;
    }
    if (wanted.join("\n") !== subscribed.join("\n")) {
      await o.stop();
      subscribed = wanted;
      if (wanted.length === 0) {
        o.onNoTopics();
      } else {
        try {
          await o.start(wanted);
          retry.reset();
        } catch (err) {
          const e = o.noteError(err, `joining ${o.groupName}`);
          subscribed = [];
          await o.stop();
          if (!e.retriable) throw e;
          await o.sleeper.sleep(retry.next());
          continue;
        }
      }
    }
    // Waiting for the first topic (a cold start, the producer about to create them): look often.
    await o.sleeper.sleep(subscribed.length === 0 ? Math.min(o.pollMs, FIRST_TOPIC_POLL_MS) : o.pollMs);
  }
}

/** How often to look for topics while none is there yet. */
export const FIRST_TOPIC_POLL_MS = 500;

/** Waits out a backoff inside a batch handler while telling the group this member is alive. */
export async function waitWithHeartbeat(ms: number, heartbeat: () => Promise<void>, stopping: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!stopping() && Date.now() < until) {
    await new Promise((r) => setTimeout(r, Math.min(1_000, until - Date.now())));
    await heartbeat();
  }
}

/** Awaits `work`, heartbeating every second while it runs: a long wait must not cost the group member its partitions. */
export async function awaitWithHeartbeat<T>(work: Promise<T>, heartbeat: () => Promise<void>): Promise<T> {
  let settled = false;
  const done = work.finally(() => {
    settled = true;
  });
  while (!settled) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done.then(() => undefined, () => undefined), new Promise<void>((r) => (timer = setTimeout(r, 1_000)))]);
    clearTimeout(timer);
    if (!settled) await heartbeat();
  }
  return done;
}
