// kafkajs's produce-request encoding, patched (node_modules, patches/kafkajs+2.2.4.patch)
// against the unpatched original (a temporary copy with the patch reversed by `git apply -R`),
// alternating in one process: CPU microseconds per record for one request of the producer's
// shape (6 partitions × 1,100 records of 820 bytes, transactional).
//
// Usage: node bench/producer/kafkajs-encode.mjs [ROUNDS, default 5]
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

const ROUNDS = Number(process.argv[2] ?? 5);
const root = resolve(import.meta.dirname, "../..");
const require = createRequire(join(root, "package.json"));
const patchedDir = dirname(require.resolve("kafkajs/package.json"));

const tmp = mkdtempSync(join(tmpdir(), "kafkajs-unpatched-"));
try {
  cpSync(patchedDir, join(tmp, "node_modules/kafkajs"), { recursive: true });
  execFileSync("git", ["apply", "-R", join(root, "patches/kafkajs+2.2.4.patch")], { cwd: tmp });

  const variants = { unpatched: join(tmp, "node_modules/kafkajs"), patched: patchedDir };
  const encoders = Object.fromEntries(Object.entries(variants).map(([name, dir]) => [name, encoderFrom(dir)]));
  const results = { unpatched: [], patched: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, encode] of Object.entries(encoders)) results[name].push(await measure(encode));
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const [u, p] = [median(results.unpatched), median(results.patched)];
  console.log(`${cpus().length} cores (${cpus()[0]?.model}), node ${process.version}, ${ROUNDS} rounds`);
  console.log(`unpatched ${u.toFixed(2)} µs/record, patched ${p.toFixed(2)} µs/record: ${(u / p).toFixed(2)}× faster`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

function encoderFrom(dir) {
  const request = require(join(dir, "src/protocol/requests/produce/v3/request.js"));
  const group = require(join(dir, "src/producer/groupMessagesPerPartition.js"));
  const Long = require(join(dir, "src/utils/long.js"));
  const value = Buffer.alloc(820, "x");
  const messages = [];
  for (let p = 0; p < 6; p++) for (let i = 0; i < 1100; i++) messages.push({ key: `{"id":"${p * 1100 + i}"}`, value, partition: p });
  const partitionMetadata = Array.from({ length: 6 }, (_, i) => ({ partitionId: i }));
  return async () => {
    const per = group({ topic: "t", partitionMetadata, messages, partitioner: ({ message }) => message.partition });
    const partitions = Object.keys(per).map((p) => ({ partition: Number(p), firstSequence: 0, messages: per[p] }));
    const req = request({ acks: -1, timeout: 30000, transactionalId: "tx", producerId: Long.fromInt(5), producerEpoch: 0, compression: 0, topicData: [{ topic: "t", partitions }] });
    return (await req.encode()).buffer.length;
  };
}

async function measure(encode) {
  for (let i = 0; i < 5; i++) await encode(); // warm up the JIT
  const n = 20;
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await encode();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n / 6600;
}
