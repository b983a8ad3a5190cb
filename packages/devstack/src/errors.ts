import { ZerolossError, type ZerolossErrorOptions } from "@zeroloss/errors";

/** The local stack's codes (the catalog has them; passing one to ZerolossError checks that). */
export type DevstackErrorCode = "PREREQUISITE_MISSING" | "SERVICE_START_FAILED" | "DOWNLOAD_FAILED" | "DOWNLOAD_CORRUPT" | "STACK_ALREADY_RUNNING" | "STACK_NOT_RUNNING" | "STACK_CONFIG_INVALID";

export class DevstackError extends ZerolossError {
  declare readonly code: DevstackErrorCode;

  constructor(code: DevstackErrorCode, message: string, options: ZerolossErrorOptions = {}) {
    super(code, message, options);
  }
}

/** A tool the stack needs is not installed; the message names it and the install command. */
export function missingPrerequisite(what: string, install: string): DevstackError {
  return new DevstackError("PREREQUISITE_MISSING", `${what} not found. Install it with: ${install} (or run scripts/bootstrap)`, {
    details: { what, install },
  });
}
