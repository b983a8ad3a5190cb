// CPU per record of the consumer's hot path without I/O: decoding and checking the
// envelopes of one fetched batch and planning it (planBatch), then the COPY text for the
// staging table, for records shaped like the benchmark row as the producer writes them.
// A steadier yardstick than the end-to-end run for changes of a few percent; the
// end-to-end run (bench/consumer/run.mjs) stays the measure.
//
// Usage: node bench/consumer/hot-path.mjs [RECORDS per round, default 200000] [ROUNDS, default 5]
import { relationSchema, rowRecord } from "../../services/producer/dist/envelopes.js";
import { planBatch } from "../../services/consumer/dist/batch.js";
import { copyText } from "../../services/consumer/dist/apply.js";
import { EnvelopeDecoder, topicNames } from "@zeroloss/wire";

const RECORDS = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const decoder = new EnvelopeDecoder();
const BATCH = 8000; // about what one 8 MiB fetch of this row holds
const topics = topicNames("bench");
const columns = [
  { name: "id", type: "bigint", typeOid: 20, typmod: -1, key: true },
  { name: "amount", type: "numeric(18,4)", typeOid: 1700, typmod: 1179656 },
  { name: "note", type: "text", typeOid: 25, typmod: -1 },
  { name: "created", type: "timestamp with time zone", typeOid: 1184, typmod: -1 },
  { name: "attrs", type: "jsonb", typeOid: 3802, typmod: -1 },
];
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
    const tuple = [
      String(i),
      `${(i % 100000) * 3}.${String(i % 10000).padStart(4, "0")}`,
      `note ${String(i).padStart(10, "0")} abcdefghijklmnopqrstuvw`,
      `2026-11-21 13:${String(i % 60).padStart(2, "0")}:05.123456+00`,
      `{"k": ${i % 97}, "flag": true, "tag": "t${i % 13}"}`,
    ];
    const source = { db: "bench", schema: "public", table: "bench_rows", lsn: "0/1D44CE8", commitLsn: "0/2D44CE8", xid: 777, commitTime: "2026-11-21T13:53:25.121000Z", seq: i - first };
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
