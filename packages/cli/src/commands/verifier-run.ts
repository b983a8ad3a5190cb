// One run of the verifier (services/verifier) with --json, for commands that act on its
// report: the demo's proof and the cutover's verification at the cut. Packages never import
// services, so it is spawned through its built entry point; its log (stderr) goes to a file.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { ZerolossError, type ErrorCode } from "@zeroloss/errors";
import type { VerifyReport } from "@zeroloss/wire";
import { NOT_BUILT, serviceEntry } from "./service.js";

export interface VerifierRun {
  /** The verifier's exit code: 0 equal, 1 drift, 2 error. */
  readonly code: number;
  /** Its report; null when it printed none (it failed before comparing). */
  readonly report: VerifyReport | null;
  readonly stderr: string;
}

export interface VerifierRunOptions {
  /** --config; absent: the verifier reads its configuration from ZEROLOSS_* variables alone. */
  readonly configFile?: string;
  /** --sustain seconds; absent: one pass (and its settling of differences in flight). */
  readonly sustainSeconds?: number;
  readonly logFile: string;
  readonly env: NodeJS.ProcessEnv;
  /** The code of the error raised when the output is not a report: the caller's area. */
  readonly outputError: ErrorCode;
  /** Aborting it stops the verifier (SIGTERM): an interrupted cutover does not wait for a whole comparison. */
  readonly signal?: AbortSignal;
}

export async function runVerifierJson(o: VerifierRunOptions): Promise<VerifierRun> {
  const entry = serviceEntry("verifier");
  if (!existsSync(entry)) {
    throw new ZerolossError(NOT_BUILT.verifier, `the verifier service is not built (${entry} is missing); run npm run build in the repository first`);
  }
  const args = [
    entry,
    ...(o.configFile === undefined ? [] : ["--config", o.configFile]),
    "--json",
    "--no-progress",
    ...(o.sustainSeconds === undefined ? [] : ["--sustain", String(o.sustainSeconds)]),
  ];
  return new Promise((resolveRun, reject) => {
    execFile(process.execPath, args, { env: o.env, maxBuffer: 256 * 1024 * 1024, ...(o.signal === undefined ? {} : { signal: o.signal }) }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : -1;
      writeFile(o.logFile, stderr).then(
        () => {
          try {
            resolveRun({ code, report: stdout.trim() === "" ? null : (JSON.parse(stdout) as VerifyReport), stderr });
          } catch (parseErr) {
            reject(new ZerolossError(o.outputError, `the verifier's --json output is not JSON (exit ${code}): ${(parseErr as Error).message}; its log: ${o.logFile}`));
          }
        },
        (writeErr: unknown) => reject(writeErr),
      );
    });
  });
}
