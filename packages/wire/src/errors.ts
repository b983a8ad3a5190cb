import { ZerolossError } from "@zeroloss/errors";

/** A record that cannot be read as its format says. Never retriable: the bytes will not change. */
export class WireError extends ZerolossError {
  constructor(code: string, message: string) {
    super(code, message, { retriable: false });
  }
}
