// The verifier's two connections: one to the source, one to the target, each with the
// pinned output settings (packages/pg), so both servers print values the same way.
import type { Config } from "@zeroloss/config";
import { connect } from "@zeroloss/pg";
import type { Sides } from "./compare.js";

export async function openSides(config: Config): Promise<Sides & { close(): Promise<void> }> {
  const source = await connect(config.source.url, { applicationName: "zeroloss-verifier" });
  try {
    const target = await connect(config.target.url, { applicationName: "zeroloss-verifier" });
    return {
      source,
      target,
      async close() {
        await Promise.allSettled([source.end(), target.end()]);
      },
    };
  } catch (err) {
    await source.end();
    throw err;
  }
}
