// Kafka misbehaving under load: every broker paused, the leader of a partition being written
// killed, two of three brokers gone (no quorum, min.insync.replicas unmet). After each,
// with the brokers back, the four-part proof of harness.ts must hold.
import { describe, expect, it } from "vitest";
import { pollUntil } from "@zeroloss/devstack";
import { holdFault, progressed, scenario, seed } from "./harness.js";
import { startPrometheus } from "../setup/prometheus.js";
import { OUTAGE_MS, signal, useFaultStack } from "./stack.js";

const EVENTS = "zeroloss_producer_events_total";

const faultStack = useFaultStack();

describe(`faults: Kafka (seed ${seed})`, () => {
  it(`all three brokers paused (SIGSTOP) for ${OUTAGE_MS / 1000} s, then resumed`, { timeout: 180_000 + 4 * OUTAGE_MS }, async () => {
    await scenario(faultStack(), "pause_all", async (f, load) => {
      await progressed(f.producer, EVENTS, 300, "the producer to stream under load");
      const pids = faultStack().cluster.nodes.map((n) => n.process.pid);
      const before = load.committed();
      for (const pid of pids) signal(pid, "SIGSTOP");
      try {
        await holdFault(OUTAGE_MS);
      } finally {
        for (const pid of pids) signal(pid, "SIGCONT");
      }
      expect(load.committed(), "the source kept taking writes while Kafka was paused").toBeGreaterThan(before);
      const resumed = (await f.producer.metric(EVENTS)) ?? 0;
      await progressed(f.producer, EVENTS, resumed + 300, "the producer to stream again after the brokers resumed");
    });
  });

  it("the leader of a partition being written is killed (-9); the others take over, it comes back", { timeout: 240_000 }, async () => {
    await scenario(faultStack(), "kill_leader", async (f) => {
      await progressed(f.producer, EVENTS, 300, "the producer to stream under load");
      const admin = f.kafka.admin();
      await admin.connect();
      let leader: number;
      try {
        const md = await admin.fetchTopicMetadata({ topics: [`${f.prefix}.public.transfers`] });
        leader = md.topics[0]!.partitions.find((p) => p.partitionId === 0)!.leader;
      } finally {
        await admin.disconnect();
      }
      const node = faultStack().cluster.nodes.find((n) => n.nodeId === leader)!;
      signal(node.process.pid, "SIGKILL");
      await node.process.exited;
      try {
        const after = (await f.producer.metric(EVENTS)) ?? 0;
        await progressed(f.producer, EVENTS, after + 300, "the producer to go on with two brokers (min.insync.replicas=2 still met)");
      } finally {
        await faultStack().cluster.startNode(leader); // the next scenarios need all three
      }
    });
  });

  it("two of three brokers stopped: the slot is not acknowledged, the producer's alert fires; all recovers when they return", { timeout: 360_000 + 4 * OUTAGE_MS }, async () => {
    await scenario(faultStack(), "two_down", async (f, load) => {
      await progressed(f.producer, EVENTS, 300, "the producer to stream under load");
      const prometheus = await startPrometheus([{ job: "zeroloss-producer", port: f.producer.port! }]);
      const [a, b] = faultStack().cluster.nodes.map((n) => n.nodeId).slice(1) as [number, number];
      let stopped = false;
      try {
        await pollUntil(async () => ((await prometheus.alerts()).length === 0 ? true : undefined), { timeoutMs: 30_000, what: "no alert while the pipeline is healthy" });
        expect(await prometheus.alerts()).toEqual([]);
        stopped = true;
        await Promise.all([faultStack().cluster.stopNode(a), faultStack().cluster.stopNode(b)]);
        const slot = async () =>
          (await f.src.query<{ lsn: string }>("SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1", [f.slot])).rows[0]!.lsn;
        const held = await slot();
        const committed = load.committed();
        // The source moves on by 200 transactions; none of them may be acknowledged.
        await pollUntil(async () => (load.committed() >= committed + 200 ? true : undefined), { timeoutMs: 60_000, what: "the workload to commit 200 more transactions" });
        await holdFault(OUTAGE_MS);
        expect(await slot(), "the slot moved while Kafka could not take the writes").toBe(held);
        // deploy/alerts.yml, evaluated by a real Prometheus on the producer's own metrics.
        let firing: string[] = [];
        await pollUntil(
          async () => {
            firing = (await prometheus.alerts()).filter((x) => x.state === "firing").map((x) => x.labels["alertname"] ?? "");
            return firing.includes("ZerolossProducerInterrupted") ? true : undefined;
          },
          { timeoutMs: 180_000, intervalMs: 1000, what: "ZerolossProducerInterrupted to fire while two brokers are down" },
        ).catch((err: unknown) => {
          throw new Error(`${(err as Error).message}; firing: ${firing.join(", ") || "nothing"}; the producer said:\n${f.producer.output().slice(-3000)}`);
        });
        expect(await slot(), "the slot moved while Kafka could not take the writes").toBe(held);
      } finally {
        await prometheus.stop();
        if (stopped) await Promise.all([faultStack().cluster.startNode(a), faultStack().cluster.startNode(b)]);
      }
      const back = (await f.producer.metric(EVENTS)) ?? 0;
      await progressed(f.producer, EVENTS, back + 300, "the producer to stream again with the brokers back");
    });
  });
});
