// A child process the CLI hands the terminal to (a service, one of Kafka's tools): stop
// signals are forwarded, a CLI orphaned by npm stops it, and its exit code is the CLI's.
import type { ChildProcess } from "node:child_process";
import type { ZerolossError } from "@zeroloss/errors";

const FORWARDED: Partial<Record<NodeJS.Signals, NodeJS.Signals>> = {
  SIGINT: "SIGINT",
  SIGTERM: "SIGTERM",
  SIGHUP: "SIGTERM",
};

/**
 * Under `npx zeroloss …` (or `npm run`), `kill <npx's pid>` ends npm and the `sh -c` it runs,
 * but that shell does not pass the signal on: the CLI and its child were left running,
 * orphaned. npm always waits for its command, so under npm a parent that went away means the
 * user stopped it: the child is stopped as by SIGTERM. Outside npm a new parent means
 * nothing (`nohup zeroloss … &` outliving its terminal is meant).
 */
const ORPHAN_CHECK_MS = 1_000;

function startedByNpm(env: NodeJS.ProcessEnv): boolean {
  return env["npm_command"] !== undefined || env["npm_lifecycle_event"] !== undefined;
}

/**
 * Waits for `child` (spawned in the CLI's process group) and resolves with its exit code, 1
 * when a signal killed it. `what` names it in messages ("producer"); `startFailed` turns a
 * failure to start it into the CLI's error.
 */
export async function superviseChild(child: ChildProcess, what: string, startFailed: (err: Error) => ZerolossError): Promise<number> {
  // Same process group: a Ctrl-C reaches the child directly and again through us; a service
  // ignores a repeated signal within 2 s, so only a deliberate second Ctrl-C forces it out,
  // and a JVM already shutting down ignores it. A kill of the CLI's whole group reaches it too.
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const [signal, forwardAs] of Object.entries(FORWARDED) as [NodeJS.Signals, NodeJS.Signals][]) {
    const handler = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(forwardAs);
    };
    handlers.set(signal, handler);
    process.on(signal, handler);
  }
  const parent = process.ppid;
  const orphanCheck = startedByNpm(process.env)
    ? setInterval(() => {
        if (process.ppid === parent || child.exitCode !== null || child.signalCode !== null) return;
        process.stderr.write(`zeroloss: npm, which started this ${what}, is gone (stopped with kill?); stopping the ${what}\n`);
        child.kill("SIGTERM");
        clearInterval(orphanCheck);
      }, ORPHAN_CHECK_MS)
    : undefined;
  orphanCheck?.unref();
  try {
    return await new Promise<number>((resolveExit, reject) => {
      child.once("error", (err) => reject(startFailed(err)));
      child.once("exit", (code, signal) => {
        if (code !== null) return resolveExit(code);
        process.stderr.write(`zeroloss: the ${what} was killed by ${signal ?? "a signal"}\n`);
        resolveExit(1);
      });
    });
  } finally {
    clearInterval(orphanCheck);
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}
