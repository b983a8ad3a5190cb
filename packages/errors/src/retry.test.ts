import { describe, expect, it } from "vitest";
import { backoff, Sleeper } from "./retry.js";

describe("retry helpers", () => {
  it("backoff doubles up to its maximum and starts over on reset", () => {
    const b = backoff(100, 500);
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 500]);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it("a sleep ends when woken, and after wake(true) every later sleep returns at once", async () => {
    const s = new Sleeper();
    const long = s.sleep(60_000);
    s.wake();
    await long; // would time the test out if wake() did nothing
    s.wake(true);
    const after = await Promise.race([s.sleep(60_000).then(() => "woken"), new Promise((r) => setTimeout(() => r("still asleep"), 1_000))]);
    expect(after).toBe("woken");
  });
});
