import { describe, expect, it } from "vitest";
import { withDeadline } from "./poll.js";

describe("withDeadline", () => {
  it("gives the work's value when it ends in time", async () => {
    await expect(withDeadline(Promise.resolve(7), 1_000, "adding")).resolves.toBe(7);
  });

  it("passes the work's own failure on", async () => {
    await expect(withDeadline(Promise.reject(new Error("refused")), 1_000, "connecting")).rejects.toThrow("refused");
  });

  it("fails retriably with TIMEOUT, naming the step, when the work never ends", async () => {
    const never = new Promise<number>(() => undefined);
    await expect(withDeadline(never, 20, "probing Kafka's committed ends")).rejects.toMatchObject({
      code: "TIMEOUT",
      retriable: true,
      message: "probing Kafka's committed ends took over 20 ms; given up",
    });
  });

  it("a failure after the deadline is nobody's: no unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const note = (err: unknown) => unhandled.push(err);
    process.on("unhandledRejection", note);
    try {
      let fail: (err: Error) => void = () => undefined;
      const late = new Promise<number>((_, reject) => (fail = reject));
      await expect(withDeadline(late, 10, "reading")).rejects.toMatchObject({ code: "TIMEOUT" });
      fail(new Error("too late"));
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", note);
    }
  });
});
