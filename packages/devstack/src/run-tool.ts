// Runs a short-lived tool (initdb, Maven, Kafka's storage format) to completion and turns a
// non-zero exit into an error that carries the tool's own output.
import { spawn } from "node:child_process";
import { DevstackError, type DevstackErrorCode } from "./errors.js";

export interface RunToolOptions {
  /** Names the step in the error: "initdb for the source cluster". */
  readonly what: string;
  readonly cwd?: string;
  readonly uid?: number;
  readonly gid?: number;
  readonly env?: NodeJS.ProcessEnv;
  /** Shortens a long output to what matters (Maven's [ERROR] lines). */
  readonly summarize?: (output: string) => string;
  /** The code of a non-zero exit: SERVICE_START_FAILED, or DOWNLOAD_FAILED for a download that may work later. */
  readonly failure?: Extract<DevstackErrorCode, "SERVICE_START_FAILED" | "DOWNLOAD_FAILED">;
}

export async function runTool(command: string, args: readonly string[], options: RunToolOptions): Promise<string> {
  const output: Buffer[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(command, [...args], {
      stdio: ["ignore", "pipe", "pipe"],
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(options.uid !== undefined ? { uid: options.uid } : {}),
      ...(options.gid !== undefined ? { gid: options.gid } : {}),
      env: options.env ?? process.env,
    });
    child.stdout.on("data", (b: Buffer) => output.push(b));
    child.stderr.on("data", (b: Buffer) => output.push(b));
    child.once("error", (err) => reject(new DevstackError("SERVICE_START_FAILED", `${options.what}: cannot run ${command}: ${err.message}`, { cause: err })));
    child.once("exit", resolve);
  });
  const text = Buffer.concat(output).toString("utf8").trim();
  if (code !== 0) {
    const shown = options.summarize ? options.summarize(text) : text;
    throw new DevstackError(options.failure ?? "SERVICE_START_FAILED", `${options.what} failed (exit ${String(code)}):\n${shown}`);
  }
  return text;
}
