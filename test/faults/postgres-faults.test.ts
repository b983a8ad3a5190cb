// PostgreSQL misbehaving under load: the source crashes (immediate shutdown: no checkpoint,
// crash recovery at restart, the slot may move back) and the target goes away for a while.
// After each, with the server back, the four-part proof of harness.ts must hold: duplicates
// from a slot that moved back are absorbed, nothing is missing.
import { describe, expect, it } from "vitest";
import pg from "pg";
import { pollUntil } from "@zeroloss/devstack";
import { updateConfig } from "../consumer/harness.js";
import { holdFault, progressed, scenario, seed } from "./harness.js";
import { TcpProxy } from "./proxy.js";
import { OUTAGE_MS, useFaultStack } from "./stack.js";

const EVENTS = "zeroloss_producer_events_total";
const APPLIED = "zeroloss_consumer_records_total";

const faultStack = useFaultStack();

describe(`faults: PostgreSQL (seed ${seed})`, () => {
  it("the source crashes (immediate shutdown) and restarts", { timeout: 240_000 }, async () => {
    await scenario(
      faultStack(),
      "src_crash",
      async (f, load) => {
        await progressed(f.producer, EVENTS, 300, "the producer to stream under load");
        await faultStack().sourcePg.stop("immediate");
        await faultStack().sourcePg.start();
        await f.sourceBack();
        const committed = load.committed();
        await pollUntil(async () => (load.committed() >= committed + 100 ? true : undefined), { timeoutMs: 60_000, what: "the workload to commit again on the restarted source" });
        const after = (await f.producer.metric(EVENTS)) ?? 0;
        await progressed(f.producer, EVENTS, after + 300, "the producer to stream again from the restarted source");
      },
      {},
      { tolerateOutage: true },
    );
  });

  it(`the target is down for ${OUTAGE_MS / 1000} s (fast shutdown), then back`, { timeout: 240_000 }, async () => {
    await scenario(faultStack(), "tgt_down", async (f, load) => {
      const consumer = f.consumers[0]!;
      await progressed(consumer, APPLIED, 300, "the consumer to apply under load");
      await faultStack().targetPg.stop("fast");
      const committed = load.committed();
      try {
        await holdFault(OUTAGE_MS);
      } finally {
        await faultStack().targetPg.start();
      }
      expect(load.committed(), "the source kept taking writes while the target was down").toBeGreaterThan(committed);
      const applied = (await consumer.metric(APPLIED)) ?? 0;
      await progressed(consumer, APPLIED, applied + 300, "the consumer to apply again with the target back");
    });
  });

  it("the producer's connection to the source is cut in the middle of a large transaction", { timeout: 240_000 }, async () => {
    const proxy = await TcpProxy.start(faultStack().sourcePg.port);
    try {
      await scenario(
        faultStack(),
        "cut_conn",
        async (f) => {
          await progressed(f.producer, EVENTS, 300, "the producer to stream under load");
          const before = (await f.producer.metric(EVENTS)) ?? 0;
          // 20,000 rows in one source transaction, about 4 MB on the replication stream.
          const big = new pg.Client({ connectionString: f.db.url });
          await big.connect();
          try {
            await big.query("INSERT INTO transfers (from_id, to_id, amount, note) SELECT 1, 2, 0.01, repeat('large transaction ', 8) || g FROM generate_series(1, 20000) g");
          } finally {
            await big.end();
          }
          const mark = proxy.downstreamBytes;
          await pollUntil(async () => (proxy.downstreamBytes >= mark + 1_000_000 ? true : undefined), {
            timeoutMs: 60_000,
            intervalMs: 5,
            what: "the producer to have received part of the large transaction",
          });
          expect(proxy.cut(), "connections cut").toBeGreaterThan(0);
          await progressed(f.producer, EVENTS, before + 20_000, "the producer to reconnect and commit the large transaction");
        },
        {},
        { prepare: (f) => updateConfig(f, { source: { url: proxy.via(f.db.url) } }) },
      );
    } finally {
      await proxy.close();
    }
  });
});
