// `zeroloss cutover`: the night a migration ends, as one resumable command (docs/cutover.md).
//   1 preflight (as `zeroloss check`)      4 verify at the cut (the verifier, by content)
//   2 fence, and the fence LSN               5 sequences synced, foreign keys validated
//   3 drain to the fence LSN                 6 the signed certificate
// `--rehearse` runs 1, 3 and 4 against the moving source, fencing nothing and signing
// nothing. Every step is recorded in <dir>/state.json as it ends: run the same command again
// after a crash or a fixed failure and it resumes; `--abort` lifts a fence it set.
// Exit 0: proven (rehearsal: drained and equal); 1: not proven or refused, with every reason;
// 2: the options or the configuration are wrong.
import { mkdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { configFingerprint, loadPrivateKey } from "@zeroloss/certificate";
import { loadConfig, type Config } from "@zeroloss/config";
import { describeError, isZerolossError, redact, ZerolossError } from "@zeroloss/errors";
import { createKafka, kafkaError } from "@zeroloss/kafka";
import type { Logger } from "@zeroloss/observability";
import { connect, resolveTables, type Client, type TableName } from "@zeroloss/pg";
import { formatReport } from "../check/format.js";
import { runPreflight } from "../check/check.js";
import { counterEndpoint } from "../counter-client.js";
import { ProgressLines } from "../progress-lines.js";
import { certificateStep } from "./certificate-step.js";
import { counterRecord, drainStep } from "./drain-step.js";
import { fenceStep, liftFence } from "./fence-step.js";
import { constraintsStep, sequencesStep } from "./settle-step.js";
import { archiveState, lockDir, readState, statePath, STATE_VERSION, writeState, type CutoverState, type FenceRequest, type Step } from "./state.js";
import { verifierProblems, verifyStep } from "./verify-step.js";

export interface CutoverOptions {
  readonly config?: string;
  readonly fence?: "read-only" | "wait";
  readonly appRole: readonly string[];
  readonly rehearse: boolean;
  readonly privateKey?: string;
  readonly dir: string;
  readonly margin?: bigint;
  readonly quietSeconds: number;
  readonly fenceTimeout: number;
  readonly drainTimeout: number;
  readonly abort: boolean;
  readonly json: boolean;
  /** false: print no outcome on stdout (the demo reports it in its proof); the exit code and state.json still say it. */
  readonly print?: boolean;
  /** The progress lines to continue (the demo's); a new one by default. */
  readonly progress?: ProgressLines;
  readonly log: Logger;
}

const EXIT_PROVEN = 0;
const EXIT_NOT_PROVEN = 1;
const EXIT_USAGE = 2;

/** The options that do not go together, each a sentence; empty when they are fine. */
export function optionProblems(o: Pick<CutoverOptions, "fence" | "appRole" | "rehearse" | "privateKey" | "abort">): string[] {
  if (o.abort) return [];
  const out: string[] = [];
  if (o.rehearse) {
    if (o.fence !== undefined) out.push("--rehearse fences nothing: leave out --fence");
    if (o.appRole.length > 0) out.push("--rehearse fences nothing: leave out --app-role");
  } else {
    if (o.fence === undefined) out.push("--fence read-only or --fence wait is needed (or --rehearse for a dry run)");
    if (o.privateKey === undefined) out.push("--private-key is needed: the certificate is signed with it (zeroloss certificate keygen makes one)");
  }
  if (o.fence === "read-only" && o.appRole.length === 0) out.push("--fence read-only needs the application's login roles: --app-role ROLE (repeat for more)");
  if (o.fence === "wait" && o.appRole.length > 0) out.push("--app-role is for --fence read-only; with --fence wait the operator stops the writers");
  return out;
}

class Interrupted extends Error {}

export async function cutoverCommand(o: CutoverOptions): Promise<number> {
  const usage = optionProblems(o);
  if (usage.length > 0) {
    for (const u of usage) process.stderr.write(`zeroloss cutover: ${u}\n`);
    return EXIT_USAGE;
  }
  const config = await loadConfig({ ...(o.config === undefined ? {} : { file: o.config }), env: process.env });
  const dir = resolve(o.dir);
  mkdirSync(dir, { recursive: true });
  const progress = o.progress ?? new ProgressLines();
  const unlock = lockDir(dir);
  try {
    return o.abort ? await abortCutover(config, dir, progress) : await cutover(o, config, dir, progress);
  } finally {
    unlock();
  }
}

async function cutover(o: CutoverOptions, config: Config, dir: string, progress: ProgressLines): Promise<number> {

  let keyPem: string | null = null;
  if (o.privateKey !== undefined) {
    try {
      keyPem = readFileSync(o.privateKey, "utf8");
    } catch (err) {
      throw new ZerolossError("CERTIFICATE_UNREADABLE", `cannot read the private key ${o.privateKey}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    loadPrivateKey(keyPem); // a wrong key is found before anything is fenced
  }

  const fingerprint = configFingerprint(config);
  const fence: FenceRequest | null = o.rehearse ? null : { mode: o.fence ?? "wait", roles: [...o.appRole] };
  const state = resumeOrBegin(dir, fingerprint, o.rehearse, fence, progress);
  if (state.finished !== undefined) return reportFinished(state, o);
  const save = () => writeState(dir, state);
  save();

  let interrupted: NodeJS.Signals | null = null;
  const stopChildren = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted !== null) process.exit(130);
    progress.line(`${signal}: aborting the cutover (a fence it set is lifted)`);
    interrupted = signal;
    stopChildren.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const abortIf = () => {
    if (interrupted !== null) throw new Interrupted(interrupted);
  };

  const source = await connect(config.source.url, { applicationName: "zeroloss-cutover" });
  let target: Client | undefined;
  try {
    target = await connect(config.target.url, { applicationName: "zeroloss-cutover" });
    const outcome = await runSteps({ o, config, dir, state, save, progress, source, target, keyPem, abortIf, signal: stopChildren.signal });
    state.finished = { at: new Date().toISOString(), ...outcome };
    save();
    if (o.rehearse) archiveState(dir, "rehearsal");
    return reportFinished(state, o);
  } catch (err) {
    if (err instanceof Interrupted || interrupted !== null) {
      const lifted = await liftFence(source, state);
      archiveState(dir, "aborted");
      progress.line(lifted ? "aborted: the fence is lifted, the application roles can write to the source again" : "aborted");
      return EXIT_NOT_PROVEN;
    }
    const code = isZerolossError(err) ? err.code : "UNEXPECTED";
    const message = isZerolossError(err) ? err.message : describeError(err);
    process.stderr.write(redact(`zeroloss cutover: ${code === "CUTOVER_NOT_PROVEN" ? "NOT proven" : `error [${code}]`}: ${message}\n`));
    if (o.json && o.print !== false) process.stdout.write(`${redact(JSON.stringify({ proven: false, rehearsal: state.rehearse, fence: state.fencePoint ?? null, error: { code, message }, steps: state.done }))}\n`);
    if (state.rehearse) {
      // A rehearsal holds no fence: its record is put aside, so the folder is free for the next run.
      archiveState(dir, "rehearsal");
    } else {
      process.stderr.write(holdAdvice(state, dir, o));
    }
    if (!isZerolossError(err)) process.stderr.write(`${err instanceof Error ? (err.stack ?? "") : ""}\n`);
    return code.startsWith("CONFIG_") ? EXIT_USAGE : EXIT_NOT_PROVEN;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await Promise.all([source.end().catch(() => undefined), target?.end().catch(() => undefined)]);
  }
}

/** A new state, or the one in the folder when it is this cutover's (same configuration, same kind). */
function resumeOrBegin(dir: string, fingerprint: string, rehearse: boolean, fence: FenceRequest | null, progress: ProgressLines): CutoverState {
  const existing = readState(dir);
  if (existing === null) {
    return { version: STATE_VERSION, startedAt: new Date().toISOString(), configFingerprint: fingerprint, rehearse, fence, done: {} };
  }
  const mismatch = [
    existing.configFingerprint !== fingerprint ? "another configuration" : null,
    existing.rehearse !== rehearse ? (existing.rehearse ? "a rehearsal" : "a real cutover") : null,
    JSON.stringify(existing.fence) !== JSON.stringify(fence) ? `another fence (${existing.fence === null ? "none" : `${existing.fence.mode} ${existing.fence.roles.join(",")}`})` : null,
  ].filter((m) => m !== null);
  if (mismatch.length > 0 && existing.fencedRoles === undefined && existing.done.fence === undefined && existing.finished === undefined) {
    // Nothing was fenced yet (the preflight or the fence was refused): begin again with these options.
    progress.line(`the cutover begun ${existing.startedAt} set no fence; beginning again with these options`);
    return { version: STATE_VERSION, startedAt: new Date().toISOString(), configFingerprint: fingerprint, rehearse, fence, done: {} };
  }
  if (mismatch.length > 0) {
    throw new ZerolossError(
      "CUTOVER_STATE_MISMATCH",
      `${statePath(dir)} holds a cutover begun ${existing.startedAt} with ${mismatch.join(", ")}: run it with the same options to resume it, ` +
        `or zeroloss cutover --abort --dir ${dir} to lift its fence and close it`,
    );
  }
  if (existing.finished === undefined) progress.line(`resuming the cutover begun ${existing.startedAt}; done: ${Object.keys(existing.done).join(", ") || "nothing yet"}`);
  return existing;
}

interface StepContext {
  readonly o: CutoverOptions;
  readonly config: Config;
  readonly dir: string;
  readonly state: CutoverState;
  readonly save: () => void;
  readonly progress: ProgressLines;
  readonly source: Client;
  readonly target: Client;
  readonly keyPem: string | null;
  readonly abortIf: () => void;
  /** Aborted on Ctrl-C: stops the verifier. */
  readonly signal: AbortSignal;
}

type Outcome = Omit<NonNullable<CutoverState["finished"]>, "at">;

async function runSteps(c: StepContext): Promise<Outcome> {
  const { o, config, state, progress } = c;
  const done = (step: Step) => {
    state.done[step] = new Date().toISOString();
    c.save();
  };
  const notProven = (problems: readonly string[]) => new ZerolossError("CUTOVER_NOT_PROVEN", problems.join("; "), { details: { problems: [...problems] } });
  const tables: TableName[] = await resolveTables(c.source, config.source.tables, config.source.exclude);

  if (state.done.preflight === undefined) {
    progress.line(`preflight: zeroloss check on source and target (${tables.length} table(s))`);
    const report = await runPreflight(config);
    const errors = report.findings.filter((f) => f.severity === "error");
    if (errors.length > 0) {
      process.stderr.write(formatReport(report));
      throw notProven([`the preflight found ${errors.length} error(s), listed above: ${errors.map((f) => f.problem).slice(0, 3).join("; ")}`]);
    }
    progress.line(`preflight: no errors (${report.findings.length} warning(s); zeroloss check lists them)`);
    done("preflight");
  }
  c.abortIf();

  if (state.done.fence === undefined) {
    await fenceStep({
      source: c.source,
      state,
      tables,
      quietMs: o.quietSeconds * 1000,
      timeoutMs: o.fenceTimeout * 1000,
      progress,
      save: c.save,
      stopped: () => {
        try {
          c.abortIf();
          return false;
        } catch {
          return true;
        }
      },
    });
    done("fence");
  }
  c.abortIf();
  const fenceLsn = state.fencePoint?.lsn ?? "0/0";

  if (state.done.drain === undefined) {
    progress.line(`drain: waiting until every change up to ${fenceLsn} is in Kafka, applied on the target and counted`);
    const kafka = createKafka({ connection: config.kafka, clientId: `${config.kafka.clientId}-cutover`, log: o.log.child({}, { level: "warn" }) });
    const admin = kafka.admin();
    await admin.connect().catch((err: unknown) => {
      throw kafkaError(err, "connecting to Kafka to read the data topics' ends");
    });
    try {
      const started = Date.now();
      const drained = await drainStep({
        config,
        source: c.source,
        target: c.target,
        admin,
        counter: counterEndpoint(config),
        fenceLsn,
        exact: !state.rehearse,
        timeoutMs: o.drainTimeout * 1000,
        progress,
        abortIf: c.abortIf,
      });
      state.drain = { drainedAt: drained.at.toISOString(), counter: counterRecord(drained.summary), quarantined: 0 };
      const t = drained.summary.totals;
      progress.line(
        `drained in ${((Date.now() - started) / 1000).toFixed(1)} s: records emitted ${t.emitted}, in Kafka ${t.transferred}, applied ${t.applied}, duplicate ${t.duplicate}, quarantined ${t.quarantined}`,
      );
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    done("drain");
  }
  c.abortIf();

  if (state.done.verify === undefined) {
    const verified = await verifyStep({ ...(o.config === undefined ? {} : { configFile: o.config }), dir: c.dir, progress, signal: c.signal });
    state.verifier = verified.record;
    if (verified.record.result !== "equal") {
      // A repair comes next (zeroloss snapshot --table): the resumed cutover drains again, so
      // what the repair sent is applied, counted and checked for quarantine before the cut.
      delete state.done.drain;
      c.save();
      throw notProven(verifierProblems(verified.report));
    }
    done("verify");
  }
  c.abortIf();

  if (state.rehearse) {
    progress.line("rehearsal done: the pipeline drained to the chosen position and the verifier found source and target equal");
    return { proven: true, problems: [], certificate: null, html: null };
  }

  if (state.done.sequences === undefined || state.sequences === undefined) {
    const margin = o.margin ?? BigInt(config.sequences.margin);
    const synced = await sequencesStep({ source: c.source, target: c.target, config, margin, progress });
    if (synced.problems.length > 0) throw notProven(synced.problems);
    // Kept, so a resumed cutover certifies what this sync found and did (a second sync finds them in sync).
    state.sequences = synced.entries;
    done("sequences");
  }
  const sequences = { entries: state.sequences };
  const constraints = await constraintsStep({ target: c.target, tables, progress });
  done("constraints");
  c.abortIf();

  const issued = await certificateStep({ config, source: c.source, state, tables, sequences: sequences.entries, constraints, privateKeyPem: c.keyPem ?? "", counter: counterEndpoint(config), dir: c.dir, progress });
  done("certificate");
  return { proven: issued.certificate.proven, problems: issued.problems, certificate: issued.json, html: issued.html };
}

/** What to do after a failure, by whether a fence is in place. */
function holdAdvice(state: CutoverState, dir: string, o: CutoverOptions): string {
  const abort = `zeroloss cutover --abort --dir ${dir}${o.config === undefined ? "" : ` --config ${o.config}`}`;
  if (state.fencedRoles !== undefined) {
    return (
      `The source stays fenced: ${state.fence?.roles.join(", ") ?? ""} cannot write to it. Fix the cause and run the same command again to resume, ` +
      `or lift the fence and give up this cutover: ${abort}\n`
    );
  }
  return `Fix the cause and run the same command again to resume, or close this cutover: ${abort}\n`;
}

function reportFinished(state: CutoverState, o: Pick<CutoverOptions, "json" | "print">): number {
  const f = state.finished;
  if (f === undefined) return EXIT_NOT_PROVEN;
  if (o.print === false) return f.proven ? EXIT_PROVEN : EXIT_NOT_PROVEN;
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ proven: f.proven, rehearsal: state.rehearse, fence: state.fencePoint ?? null, problems: f.problems, certificate: f.certificate, html: f.html, steps: state.done })}\n`);
  } else {
    const lines = state.rehearse
      ? [`REHEARSAL ${f.proven ? "OK" : "FAILED"}: drained to ${state.fencePoint?.lsn ?? "?"} and verified; nothing was fenced, nothing signed`]
      : f.proven
        ? [`PROVEN: the cutover at fence LSN ${state.fencePoint?.lsn ?? "?"} lost nothing`, `certificate  ${f.certificate ?? "-"}`, `html         ${f.html ?? "-"}`]
        : [`NOT proven: ${f.problems.join("; ")}`, `certificate  ${f.certificate ?? "-"} (proven: false)`, `html         ${f.html ?? "-"}`];
    if (!state.rehearse && state.fence?.mode === "read-only") {
      lines.push(`the source stays read-only for ${state.fence.roles.join(", ")}; zeroloss cutover --abort lifts that`);
    }
    process.stdout.write(`${lines.join("\n")}\n`);
  }
  return f.proven ? EXIT_PROVEN : EXIT_NOT_PROVEN;
}

/** --abort: lifts the fence the folder's cutover set and closes its record. */
async function abortCutover(config: Config, dir: string, progress: ProgressLines): Promise<number> {
  const state = readState(dir);
  if (state === null) {
    progress.line(`no cutover in ${dir} (no ${statePath(dir)}): nothing to abort`);
    return EXIT_PROVEN;
  }
  if (state.configFingerprint !== configFingerprint(config)) {
    throw new ZerolossError(
      "CUTOVER_STATE_MISMATCH",
      `${statePath(dir)} holds a cutover begun ${state.startedAt} with another configuration: --abort lifts its fence only with the configuration it was begun with (--config)`,
    );
  }
  const source = await connect(config.source.url, { applicationName: "zeroloss-cutover" });
  try {
    const lifted = await liftFence(source, state);
    const to = archiveState(dir, "aborted");
    progress.line(`${lifted ? `fence lifted: ${state.fence?.roles.join(", ") ?? ""} can write to the source again` : "no fence to lift"}; the cutover's record is kept as ${to}`);
    return EXIT_PROVEN;
  } finally {
    await source.end().catch(() => undefined);
  }
}
