// Loaded into the counter process by bench/counter/run.mjs (`node --import <this file>
// services/counter/dist/main.js`, TRACE=1, the default) to see where the counter's time goes
// without changing its code. It wraps, in this process only:
//   - pg's Client.prototype.query on the counter's connections (application_name
//     zeroloss-counter*): every statement's round trip by kind, and on the writer's connection
//     each ledger transaction from BEGIN to COMMIT: its statements' time, the Node time
//     between them (deltas.ts: parsing the records), and the writer's idle time between
//     transactions;
//   - @zeroloss/kafka's DatabaseGroupCommit: batches and records per ledger transaction and how long
//     each batch waited for its transaction to start (counter.lingerMs, then the writer);
//   - kafkajs's consumer: fetch requests, partition batches per fetch, records per batch, and
//     the time from a fetch's answer to the next fetch (kafkajs hands the next fetch's batches
//     over only once every batch of this one is resolved).
// Experiments only: ZEROLOSS_BENCH_COUNTER_CONSUMER='{"maxBytesPerPartition":8388608}' merges
// options into the counter's kafkajs consumer, ZEROLOSS_BENCH_COUNTER_LANES=<n> replaces its
// partitionsConsumedConcurrently. The summary is written as JSON to ZEROLOSS_BENCH_TRACE when
// the process exits.
import { writeFileSync } from "node:fs";
import pg from "pg";
import kafkajs from "kafkajs";
import { DatabaseGroupCommit } from "@zeroloss/kafka";
import { label } from "./labels.mjs";

const OUT = process.env.ZEROLOSS_BENCH_TRACE;
const CONSUMER_OVERRIDE = JSON.parse(process.env.ZEROLOSS_BENCH_COUNTER_CONSUMER ?? "{}");
const LANES_OVERRIDE = process.env.ZEROLOSS_BENCH_COUNTER_LANES === undefined ? null : Number(process.env.ZEROLOSS_BENCH_COUNTER_LANES);
const T0 = performance.now();
const now = () => performance.now();

function dist(values) {
  if (values.length === 0) return { n: 0 };
  const s = [...values].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  const sum = s.reduce((a, b) => a + b, 0);
  const r = (v) => Number(v.toFixed(2));
  return { n: s.length, sum: r(sum), mean: r(sum / s.length), p50: r(q(0.5)), p90: r(q(0.9)), p99: r(q(0.99)), max: r(s[s.length - 1]) };
}

// --- statements and ledger transactions ------------------------------------------------------

const statements = new Map(); // "app|label" → durations (ms)
const writer = { txnMs: [], stmtMs: [], nodeMsInside: [], idleMsBetween: [], byLabelInTxn: new Map(), timeline: [] };
const conns = new WeakMap();

function note(map, key, ms) {
  let a = map.get(key);
  if (a === undefined) map.set(key, (a = []));
  a.push(ms);
}

const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (config, values, callback) {
  const app = this.connectionParameters?.application_name ?? "";
  if (typeof config !== "string" || typeof values === "function" || callback !== undefined || !app.startsWith("zeroloss-counter")) {
    return query.apply(this, arguments);
  }
  const name = label(config);
  const start = now();
  const promise = query.call(this, config, values);
  const done = () => {
    const end = now();
    const ms = end - start;
    note(statements, `${app}|${name}`, ms);
    if (app !== "zeroloss-counter") return;
    let c = conns.get(this);
    if (c === undefined) conns.set(this, (c = { begin: null, stmt: 0, lastEnd: null, parts: new Map() }));
    if (name === "BEGIN") {
      if (c.lastEnd !== null) writer.idleMsBetween.push(start - c.lastEnd);
      c.begin = start;
      c.stmt = ms;
      c.parts = new Map([["BEGIN", ms]]);
      return;
    }
    if (c.begin === null) return;
    c.stmt += ms;
    c.parts.set(name, (c.parts.get(name) ?? 0) + ms);
    if (name === "COMMIT" || name === "ROLLBACK") {
      const total = end - c.begin;
      writer.txnMs.push(total);
      writer.stmtMs.push(c.stmt);
      writer.nodeMsInside.push(total - c.stmt);
      for (const [k, v] of c.parts) note(writer.byLabelInTxn, k, v);
      writer.timeline.push([Number(((c.begin - T0) / 1000).toFixed(3)), Number(total.toFixed(1)), Number((total - c.stmt).toFixed(1))]);
      c.begin = null;
      c.lastEnd = end;
    }
  };
  promise.then(done, done);
  return promise;
};

// --- group commit: batches per ledger transaction, and their wait ----------------------------

const arrived = new WeakMap();
const groups = { batches: [], records: [], dataRecords: [], waitMs: [], runMs: [], kinds: { data: 0, tallies: 0, manifests: 0 } };
const write = DatabaseGroupCommit.prototype.write;
DatabaseGroupCommit.prototype.write = function (batch) {
  arrived.set(batch, now());
  return write.call(this, batch);
};
const run = DatabaseGroupCommit.prototype.run;
DatabaseGroupCommit.prototype.run = async function (group) {
  const start = now();
  let records = 0;
  let data = 0;
  for (const w of group) {
    const at = arrived.get(w.batch);
    if (at !== undefined) groups.waitMs.push(start - at);
    const n = w.batch?.messages?.length ?? 0;
    records += n;
    if (w.batch?.kind === "data") data += n;
    if (w.batch?.kind in groups.kinds) groups.kinds[w.batch.kind]++;
  }
  groups.batches.push(group.length);
  groups.records.push(records);
  groups.dataRecords.push(data);
  try {
    return await run.call(this, group);
  } finally {
    groups.runMs.push(now() - start);
  }
};

// --- kafkajs: the fetch loop -------------------------------------------------------------------

const fetches = { requestMs: [], batchesPerFetch: [], recordsPerFetch: [], processMs: [], recordsPerBatch: [], emptyBatches: 0 };
const consumer = kafkajs.Kafka.prototype.consumer;
kafkajs.Kafka.prototype.consumer = function (options = {}) {
  const c = consumer.call(this, { ...options, ...CONSUMER_OVERRIDE });
  let fetchedAt = null;
  let batches = 0;
  let records = 0;
  const closeFetch = (at) => {
    if (fetchedAt === null) return;
    fetches.processMs.push(at - fetchedAt);
    fetches.batchesPerFetch.push(batches);
    fetches.recordsPerFetch.push(records);
    fetchedAt = null;
  };
  c.on(c.events.FETCH_START, () => closeFetch(now()));
  c.on(c.events.FETCH, (e) => {
    fetches.requestMs.push(e.payload.duration);
    fetchedAt = now();
    batches = 0;
    records = 0;
  });
  c.on(c.events.START_BATCH_PROCESS, (e) => {
    batches++;
    records += e.payload.batchSize;
    if (e.payload.batchSize === 0) fetches.emptyBatches++;
    else fetches.recordsPerBatch.push(e.payload.batchSize);
  });
  if (LANES_OVERRIDE !== null) {
    const runGroup = c.run.bind(c);
    c.run = (config) => runGroup({ ...config, partitionsConsumedConcurrently: LANES_OVERRIDE });
  }
  return c;
};

// --- the summary, at exit ----------------------------------------------------------------------

process.on("exit", () => {
  if (OUT === undefined) return;
  const byStatement = {};
  for (const [k, v] of [...statements].sort((a, b) => b[1].reduce((x, y) => x + y, 0) - a[1].reduce((x, y) => x + y, 0))) byStatement[k] = dist(v);
  const inTxn = {};
  for (const [k, v] of [...writer.byLabelInTxn].sort((a, b) => b[1].reduce((x, y) => x + y, 0) - a[1].reduce((x, y) => x + y, 0))) inTxn[k] = dist(v);
  const out = {
    seconds: Number(((now() - T0) / 1000).toFixed(1)),
    overrides: { consumer: CONSUMER_OVERRIDE, lanes: LANES_OVERRIDE },
    ledgerTransactions: {
      totalMs: dist(writer.txnMs),
      statementsMs: dist(writer.stmtMs),
      nodeMsInside: dist(writer.nodeMsInside),
      writerIdleMsBetween: dist(writer.idleMsBetween),
      byStatementMs: inTxn,
      timeline: writer.timeline,
    },
    groupCommit: {
      batchesPerTransaction: dist(groups.batches),
      recordsPerTransaction: dist(groups.records),
      dataRecordsPerTransaction: dist(groups.dataRecords),
      batchWaitMs: dist(groups.waitMs),
      runMs: dist(groups.runMs),
      batchesByKind: groups.kinds,
    },
    fetchLoop: {
      requestMs: dist(fetches.requestMs),
      batchesPerFetch: dist(fetches.batchesPerFetch),
      recordsPerFetch: dist(fetches.recordsPerFetch),
      fetchToNextFetchMs: dist(fetches.processMs),
      recordsPerBatch: dist(fetches.recordsPerBatch),
      emptyBatches: fetches.emptyBatches,
    },
    statementsByConnection: byStatement,
  };
  writeFileSync(OUT, JSON.stringify(out, null, 1));
});
