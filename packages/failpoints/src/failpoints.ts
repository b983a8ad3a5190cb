// Failpoints: named places in the producer and the consumer where a fault-injection test
// (or an operator rehearsing a failure) makes the process crash, stall or fail, exactly at
// the boundary that matters — between a commit in one system and the acknowledgement in the
// other. Armed only by the explicit ZEROLOSS_FAILPOINTS variable, read once in a service's
// main; unarmed (always, in production) each point is one map lookup that finds nothing.
// Every point is listed here, with what has and has not happened when it fires, and in
// docs/failpoints.md (a test keeps the two equal).
import { ZerolossError } from "@zeroloss/errors";

export const FAILPOINTS = {
  "producer.before-kafka-commit": "a Kafka transaction's records, manifests, tallies and checkpoint are sent; it is not committed",
  "producer.after-kafka-commit": "a Kafka transaction is committed; the slot is not yet acknowledged up to it",
  "producer.after-slot-ack": "the slot is acknowledged up to the last committed Kafka transaction",
  "consumer.before-target-commit": "a target transaction (one or more partitions' batches) is staged, validated and merged; it is not committed",
  "consumer.after-target-commit": "a target transaction (one or more partitions' batches) is committed; its Kafka offsets are not",
  "consumer.after-offset-commit": "the Kafka offsets of a target transaction's batches are committed; their written tallies wait in the outbox, unpublished",
} as const satisfies Record<string, string>;

export type FailpointName = keyof typeof FAILPOINTS;
export type FailpointService = "producer" | "consumer";
export const FAILPOINTS_VARIABLE = "ZEROLOSS_FAILPOINTS";

/** crash: SIGKILL to itself (as kill -9); stall: wait that long, then go on; error: a retriable error at that point. */
export type FailpointAction = { readonly kind: "crash" } | { readonly kind: "stall"; readonly ms: number } | { readonly kind: "error" };

export interface ArmedFailpoint {
  readonly name: FailpointName;
  readonly action: FailpointAction;
  /** Fires once, the nth time the point is reached (1: the first). */
  readonly hit: number;
}

/** Told when a failpoint fires, before it acts (a crash leaves no other trace). */
export type FireListener = (point: ArmedFailpoint) => void;

const ACTION = /^(crash|error|stall:(\d+))(?:@(\d+))?$/;

/**
 * Parses `name=action[@n],...`, e.g. `producer.after-kafka-commit=crash@3,consumer.before-target-commit=stall:5000`.
 * Every problem is reported at once; a failpoint of another service is one.
 */
export function parseFailpoints(spec: string, service: FailpointService): ArmedFailpoint[] {
  const armed: ArmedFailpoint[] = [];
  const problems: string[] = [];
  for (const part of spec.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    const eq = part.indexOf("=");
    const name = (eq < 0 ? part : part.slice(0, eq)).trim();
    const m = eq < 0 ? null : ACTION.exec(part.slice(eq + 1).trim());
    if (!(name in FAILPOINTS)) {
      problems.push(`${name}: no such failpoint (${Object.keys(FAILPOINTS).join(", ")})`);
      continue;
    }
    if (!name.startsWith(`${service}.`)) {
      problems.push(`${name}: not a ${service} failpoint`);
      continue;
    }
    if (m === null) {
      problems.push(`${part}: the action must be crash, error or stall:<ms>, optionally @<n> (the nth time the point is reached)`);
      continue;
    }
    const hit = m[3] === undefined ? 1 : Number(m[3]);
    if (hit < 1) {
      problems.push(`${part}: @<n> counts from 1`);
      continue;
    }
    if (armed.some((a) => a.name === name)) {
      problems.push(`${name}: armed twice`);
      continue;
    }
    const action: FailpointAction = m[1] === "crash" ? { kind: "crash" } : m[1] === "error" ? { kind: "error" } : { kind: "stall", ms: Number(m[2]) };
    armed.push({ name: name as FailpointName, action, hit });
  }
  if (problems.length > 0) {
    throw new ZerolossError("CONFIG_FAILPOINTS", `${FAILPOINTS_VARIABLE}: ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join("\n")}`, {
      details: { problems },
    });
  }
  return armed;
}

export class Failpoints {
  /** Nothing armed: every hit() is a lookup that finds nothing. */
  static readonly none = new Failpoints([]);

  private readonly points = new Map<FailpointName, { point: ArmedFailpoint; reached: number }>();

  constructor(
    armed: readonly ArmedFailpoint[],
    private readonly onFire: FireListener = () => undefined,
  ) {
    for (const point of armed) this.points.set(point.name, { point, reached: 0 });
  }

  /** From the environment of a service's main; Failpoints.none when the variable is unset or empty. */
  static fromEnv(service: FailpointService, env: Readonly<Record<string, string | undefined>>, onFire?: FireListener): Failpoints {
    const spec = env[FAILPOINTS_VARIABLE];
    if (spec === undefined || spec.trim() === "") return Failpoints.none;
    return new Failpoints(parseFailpoints(spec, service), onFire);
  }

  get armed(): readonly ArmedFailpoint[] {
    return [...this.points.values()].map((p) => p.point);
  }

  /** Marks the point reached; when it is armed for this hit, crashes, stalls or throws. */
  async hit(name: FailpointName): Promise<void> {
    const entry = this.points.get(name);
    if (entry === undefined) return;
    entry.reached++;
    if (entry.reached !== entry.point.hit) return;
    this.onFire(entry.point);
    const action = entry.point.action;
    switch (action.kind) {
      case "crash":
        process.kill(process.pid, "SIGKILL");
        return new Promise<void>(() => undefined); // never resumes: the signal ends the process
      case "stall":
        await new Promise((resolve) => setTimeout(resolve, action.ms));
        return;
      case "error":
        throw new ZerolossError("FAILPOINT_ERROR", `failpoint ${name} fired: ${FAILPOINTS[name]}`, { details: { failpoint: name } });
    }
  }
}

/** What a service's main hands in: where it logs that failpoints are armed and when one fires. */
export interface FailpointLog {
  warn(obj: object, msg: string): void;
}

/**
 * The failpoints of a service's process, from ZEROLOSS_FAILPOINTS: logged loudly when armed,
 * each firing logged first. null (after printing every problem on stderr) when the variable
 * is malformed: the main then exits 2, as for a configuration error.
 */
export function loadFailpoints(service: FailpointService, env: Readonly<Record<string, string | undefined>>, log: FailpointLog): Failpoints | null {
  let failpoints: Failpoints;
  try {
    failpoints = Failpoints.fromEnv(service, env, (p) => log.warn({ failpoint: p.name, action: p.action, hit: p.hit }, "failpoint fired"));
  } catch (err) {
    process.stderr.write(`zeroloss ${service}: error [${(err as { code?: string }).code ?? "CONFIG_FAILPOINTS"}]: ${(err as Error).message}\n`);
    return null;
  }
  if (failpoints.armed.length > 0) log.warn({ failpoints: failpoints.armed }, "FAILPOINTS ARMED (fault injection): this process will crash, stall or fail on purpose");
  return failpoints;
}
