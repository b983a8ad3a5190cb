// CPU per row of the producer's hot path without I/O: envelope, key, checksum and partition
// for rows shaped like the benchmark row, then kafkajs's encoding of the produce requests
// (6 partitions, ~5.5 MB per request, as the producer sends them). A steadier yardstick than
// the end-to-end run for changes of a few percent; the end-to-end run stays the measure.
//
// Usage: node bench/producer/hot-path.mjs [ROWS per round, default 200000] [ROUNDS, default 5]
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { relationSchema, rowRecord } from "../../services/producer/dist/envelopes.js";
import { partitionForKey } from "@zeroloss/kafka";
import { topicNames } from "@zeroloss/wire";
import { ENVELOPE_COLUMNS, hotPathRow } from "../common.mjs";

const ROWS = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const require = createRequire(resolve(import.meta.dirname, "../../package.json"));
const kafkajs = dirname(require.resolve("kafkajs/package.json"));
const produceRequest = require(join(kafkajs, "src/protocol/requests/produce/v3/request.js"));
const Long = require(join(kafkajs, "src/utils/long.js"));

const rel = relationSchema(topicNames("bench"), 16384, "public", "bench_rows", ENVELOPE_COLUMNS);
const PER_REQUEST = 6600;

async function round(first) {
  let partitions = Array.from({ length: 6 }, () => []);
  let bytes = 0;
  for (let i = first; i < first + ROWS; i++) {
    const { tuple, source } = hotPathRow(i, i - first);
    const built = rowRecord("c", rel, tuple, source);
    const p = partitionForKey(built.record.key, 6);
    partitions[p].push({ key: built.record.key, value: built.record.value, partition: p });
    if ((i - first + 1) % PER_REQUEST === 0) {
      bytes += await encode(partitions);
      partitions = Array.from({ length: 6 }, () => []);
    }
  }
  return bytes;
}

async function encode(partitions) {
  const req = produceRequest({
    acks: -1, timeout: 30000, transactionalId: "tx", producerId: Long.fromInt(5), producerEpoch: 0, compression: 0,
    topicData: [{ topic: rel.topic, partitions: partitions.map((messages, partition) => ({ partition, firstSequence: 0, messages })) }],
  });
  return (await req.encode()).buffer.length;
}

await round(0); // warm up the JIT
const results = [];
for (let r = 1; r <= ROUNDS; r++) {
  const start = process.cpuUsage();
  await round(r * ROWS);
  const used = process.cpuUsage(start);
  results.push((used.user + used.system) / ROWS);
}
results.sort((a, b) => a - b);
console.log(`hot path: median ${results[Math.floor(results.length / 2)].toFixed(2)} CPU µs/row (rounds: ${results.map((x) => x.toFixed(2)).join(", ")})`);
