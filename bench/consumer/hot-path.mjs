// CPU per record of the consumer's hot path without I/O: decoding and checking the
// envelopes of one fetched batch and planning it (planBatch), then the COPY text for the
// staging table, for records shaped like the benchmark row as the producer writes them.
// A steadier yardstick than the end-to-end run for changes of a few percent; the
// end-to-end run (bench/consumer/run.mjs) stays the measure.
//
// Usage: node bench/consumer/hot-path.mjs [RECORDS per round, default 200000] [ROUNDS, default 5]
import { relationSchema, rowRecord } from "../../services/producer/dist/envelopes.js";
import { planBatch } from "../../services/consumer/dist/batch.js";
import { copyText } from "../../services/consumer/dist/apply-rows.js";
import { EnvelopeReader } from "@zeroloss/avro";
import { topicNames } from "@zeroloss/wire";
import { ENVELOPE_COLUMNS, hotPathRow } from "../common.mjs";

const RECORDS = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const decoder = new EnvelopeReader(null); // JSON only: no registry
const BATCH = 8000; // about what one 8 MiB fetch of this row holds
const topics = topicNames("bench");
const columns = ENVELOPE_COLUMNS;
const rel = relationSchema(topics, 16384, "public", "bench_rows", columns);
const table = {
  schema: "public",
  name: "bench_rows",
  quoted: '"public"."bench_rows"',
  columns: columns.map((c) => ({ name: c.name, type: c.type })),
  keyIndexes: [0],
  columnsJson: JSON.stringify(columns),
};

function batches(first) {
  const out = [];
  let records = [];
  for (let i = first; i < first + RECORDS; i++) {
    const { tuple, source } = hotPathRow(i, i - first);
    const { record } = rowRecord("c", rel, tuple, source);
    // kafkajs hands the consumer Buffers and string offsets
    records.push({ offset: String(i), key: Buffer.from(record.key), value: Buffer.from(record.value) });
    if (records.length === BATCH) {
      out.push(records);
      records = [];
    }
  }
  if (records.length > 0) out.push(records);
  return out;
}

async function round(first) {
  const input = batches(first);
  const start = process.cpuUsage();
  let bytes = 0;
  for (const records of input) {
    const plan = await planBatch(rel.topic, 0, records, { topics, decoder, resolve: async () => table });
    if (plan.malformed.length > 0) throw new Error(`malformed: ${plan.malformed[0].reason}`);
    for (const step of plan.steps) if (step.kind === "rows") bytes += Buffer.byteLength(copyText(step.rows));
  }
  const used = process.cpuUsage(start);
  if (bytes === 0) throw new Error("no COPY text");
  return (used.user + used.system) / RECORDS;
}

await round(0); // warm up the JIT
const results = [];
for (let r = 1; r <= ROUNDS; r++) results.push(await round(r * RECORDS));
results.sort((a, b) => a - b);
console.log(`consumer hot path: median ${results[Math.floor(results.length / 2)].toFixed(2)} CPU µs/record (rounds: ${results.map((x) => x.toFixed(2)).join(", ")})`);
