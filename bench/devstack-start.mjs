// Warm-cache start times of the local dev stack: the PostgreSQL pair (two clusters, initdb
// included), a 1-broker and a 3-broker Kafka (storage format included), each started and
// stopped RUNS times in this session. Jars must already be cached (run it twice, or after
// the tests). Usage: scripts/run bench:devstack [runs]
import { cpus, totalmem } from "node:os";
import { Instance, startKafka, startPostgres, runRoot } from "@zeroloss/devstack";
import { createLogger } from "@zeroloss/observability";

const runs = Number(process.argv[2] ?? 3);
const log = createLogger({ name: "bench", level: "warn", pretty: true });
const env = process.env;

async function timed(label, start) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const instance = await Instance.create({ root: runRoot(env), detached: false, log });
    const t0 = performance.now();
    await start(instance);
    samples.push((performance.now() - t0) / 1000);
    await instance.stop();
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)];
  console.log(`${label.padEnd(22)} median ${median.toFixed(1)} s   runs: ${samples.map((s) => s.toFixed(1)).join(", ")}`);
}

console.log(`devstack start times, ${runs} runs each; ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`);
await timed("postgres pair", (i) =>
  Promise.all([startPostgres(i, { name: "source", database: "source", env, log }), startPostgres(i, { name: "target", database: "target", env, log })]),
);
await timed("kafka, 1 broker", (i) => startKafka(i, { brokers: 1, env, log }));
await timed("kafka, 3 brokers", (i) => startKafka(i, { brokers: 3, env, log }));
