import { ZerolossError, type ErrorCode } from "@zeroloss/errors";

/** The codes of a record that does not read as its format says. */
export type WireErrorCode = Extract<ErrorCode, `WIRE_${string}`>;

/** A record that cannot be read as its format says. Never retriable (the catalog says so): the bytes will not change. */
export class WireError extends ZerolossError {
  declare readonly code: WireErrorCode;

  constructor(code: WireErrorCode, message: string) {
    super(code, message);
  }
}
