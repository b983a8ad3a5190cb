// The errors a long-running service met: the last one, shown on /healthz as
// `details.lastError`, and every one counted by code in its errors metric. One place, so
// the producer, consumer and counter report errors alike.
import { describeError, type ZerolossError } from "@zeroloss/errors";
import type { Logger } from "pino";

export class ErrorRecord {
  private last: ZerolossError | null = null;

  constructor(
    private readonly counter: { inc(labels: { code: string }): void },
    private readonly log: Logger,
  ) {}

  /** Counts `e`, keeps it as the last error, and logs it at debug with what was being done (the caller decides what to say louder). */
  note(e: ZerolossError, what: string, cause: unknown = e): ZerolossError {
    this.last = e;
    this.counter.inc({ code: e.code });
    this.log.debug({ err: describeError(cause), code: e.code, what }, "error");
    return e;
  }

  /** For /healthz details: `{ lastError: { code, message } }`, or nothing before the first error. */
  health(): { lastError?: { code: string; message: string } } {
    return this.last === null ? {} : { lastError: { code: this.last.code, message: this.last.message } };
  }
}
