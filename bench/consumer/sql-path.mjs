// The consumer's database side alone, before the consumer exists: how fast can the target
// take the benchmark row through staging, the in-database checksum check and an LSN-guarded
// merge, against a plain COPY of the same rows into an identical empty table? No Kafka here:
// this bounds what issue 4's consumer can reach (its goal: at least 30% of the COPY rate
// with validation on) and informs the staging design. The full consumer bench comes with it.
//
// One run, on the dev stack's target PostgreSQL:
//   copy      psql \copy of ROWS rows (CSV) into bench_target_plain(id bigint primary key, ...)
//   staging   psql \copy of the same rows plus (lsn, checksum) into an UNLOGGED staging table
//   validate  one SELECT recomputing every row's checksum in SQL (packages/checksum) and
//             counting mismatches (must be 0: the checksums were computed by rowChecksum in JS)
//   merge     INSERT ... SELECT FROM staging ON CONFLICT (id) DO UPDATE ... WHERE target.lsn <= excluded.lsn
//             into an empty bench_target (the same table plus an applied-LSN column)
//   one pass  validation folded into the merge: one statement computes each checksum once,
//             quarantines mismatches and merges the rest (into an empty bench_target_one)
//
// Usage: node bench/consumer/sql-path.mjs [ROWS, default 1000000]
import { execFileSync } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { checksumSql, quoteIdent, rowChecksum, textOutputSql } from "@zeroloss/checksum";
import { startDevStack } from "@zeroloss/devstack";
import { createLogger } from "@zeroloss/observability";
import { connect } from "@zeroloss/pg";

const ROWS = Number(process.argv[2] ?? 1_000_000);
const PG_BIN = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin";
const log = createLogger({ name: "bench", level: "warn", pretty: true });
const COLUMNS = [
  ["id", "bigint"],
  ["amount", "numeric(18,4)"],
  ["note", "text"],
  ["created", "timestamp with time zone"],
  ["attrs", "jsonb"],
];
const names = COLUMNS.map(([n]) => n);

/** The benchmark row in PostgreSQL's own text output (what the producer would carry). */
function row(i) {
  const amount = `${(i * 7919) % 1_000_000}.${String(i % 10_000).padStart(4, "0")}`;
  const note = `note ${String(i).padStart(12, "0")} abcdefghijklmnopqrstu`; // 40 characters
  const created = `2026-11-${String(1 + (i % 28)).padStart(2, "0")} ${String(i % 24).padStart(2, "0")}:${String(i % 60).padStart(2, "0")}:05.${String((i % 99_999) * 10 + 1).padStart(6, "0")}+00`; // no trailing zero: PostgreSQL drops them
  const attrs = `{"k": ${i % 97}, "tag": "t${i % 13}", "flag": ${i % 2 === 0}}`; // jsonb's own key order and spacing
  return [String(i), amount, note, created, attrs];
}

const csv = (values) => values.map((v) => `"${v.replace(/"/g, '""')}"`).join(",");

async function writeFiles(dir) {
  const plain = createWriteStream(join(dir, "plain.csv"));
  const staged = createWriteStream(join(dir, "staged.csv"));
  for (let i = 1; i <= ROWS; i++) {
    const values = row(i);
    const line = csv(values);
    if (!plain.write(`${line}\n`)) await once(plain, "drain");
    const lsn = `0/${(0x1000000 + i * 200).toString(16).toUpperCase()}`;
    const key = `{""id"":""${i}""}`;
    if (!staged.write(`${i},"${lsn}","${rowChecksum(names, values)}","${key}",${line}\n`)) await once(staged, "drain");
  }
  plain.end();
  staged.end();
  await Promise.all([once(plain, "finish"), once(staged, "finish")]);
}

function psqlCopy(url, table, columns, file) {
  const t0 = performance.now();
  execFileSync(join(PG_BIN, "psql"), [url, "-v", "ON_ERROR_STOP=1", "-q", "-c", `\\copy ${table} (${columns.map(quoteIdent).join(", ")}) FROM '${file}' WITH (FORMAT csv)`], { stdio: ["ignore", "ignore", "inherit"] });
  return performance.now() - t0;
}

const dir = mkdtempSync(join(tmpdir(), "zeroloss-sql-path-"));
const stack = await startDevStack({ brokers: 1, log });
try {
  await writeFiles(dir);
  const db = await connect(stack.target, { applicationName: "bench-sql-path" });
  const cols = COLUMNS.map(([n, t]) => `${quoteIdent(n)} ${t}`).join(", ");
  await db.query(`DROP TABLE IF EXISTS bench_target_plain, bench_target, bench_target_one, bench_quarantine, bench_staging, bench_target_side, bench_row_state`);
  await db.query(`CREATE TABLE bench_target_side (${cols}, PRIMARY KEY (id))`);
  await db.query(`CREATE TABLE bench_row_state (table_id int NOT NULL, key text COLLATE "C" NOT NULL, lsn pg_lsn NOT NULL, part int NOT NULL, deleted boolean NOT NULL, PRIMARY KEY (table_id, key))`);
  await db.query(`CREATE TABLE bench_target_one (${cols}, applied_lsn pg_lsn NOT NULL, PRIMARY KEY (id))`);
  await db.query(`CREATE TABLE bench_quarantine ("offset" bigint, expected text, computed text)`);
  await db.query(`CREATE TABLE bench_target_plain (${cols}, PRIMARY KEY (id))`);
  await db.query(`CREATE TABLE bench_target (${cols}, applied_lsn pg_lsn NOT NULL, PRIMARY KEY (id))`);
  await db.query(`CREATE UNLOGGED TABLE bench_staging ("offset" bigint, lsn pg_lsn, checksum text, key text, ${cols})`);
  await db.query("CHECKPOINT");

  const copyMs = psqlCopy(stack.target, "bench_target_plain", names, join(dir, "plain.csv"));
  await db.query("CHECKPOINT");
  const stagingMs = psqlCopy(stack.target, "bench_staging", ["offset", "lsn", "checksum", "key", ...names], join(dir, "staged.csv"));

  const sum = checksumSql(names.map((n) => ({ name: n, textSql: textOutputSql(`s.${quoteIdent(n)}`) })));
  let t0 = performance.now();
  const bad = Number((await db.query(`SELECT count(*) AS n FROM bench_staging s WHERE ${sum} IS DISTINCT FROM s.checksum`)).rows[0].n); // values arrive as text
  const validateMs = performance.now() - t0;
  if (bad !== 0) throw new Error(`${bad} of ${ROWS} rows failed the in-database checksum: the generated text is not PostgreSQL's own output`);

  const set = names.filter((n) => n !== "id").map((n) => `${quoteIdent(n)} = excluded.${quoteIdent(n)}`).join(", ");
  t0 = performance.now();
  await db.query(
    `INSERT INTO bench_target (${names.map(quoteIdent).join(", ")}, applied_lsn) SELECT ${names.map((n) => `s.${quoteIdent(n)}`).join(", ")}, s.lsn FROM bench_staging s ` +
      `ON CONFLICT (id) DO UPDATE SET ${set}, applied_lsn = excluded.applied_lsn WHERE bench_target.applied_lsn <= excluded.applied_lsn`,
  );
  const mergeMs = performance.now() - t0;

  t0 = performance.now();
  const sel = names.map((n) => `c.${quoteIdent(n)}`).join(", ");
  await db.query(
    `WITH c AS MATERIALIZED (SELECT s.*, ${sum} AS computed FROM bench_staging s), ` +
      `q AS (INSERT INTO bench_quarantine SELECT c."offset", c.checksum, c.computed FROM c WHERE c.computed IS DISTINCT FROM c.checksum) ` +
      `INSERT INTO bench_target_one (${names.map(quoteIdent).join(", ")}, applied_lsn) SELECT ${sel}, c.lsn FROM c WHERE c.computed = c.checksum ` +
      `ON CONFLICT (id) DO UPDATE SET ${set}, applied_lsn = excluded.applied_lsn WHERE bench_target_one.applied_lsn <= excluded.applied_lsn`,
  );
  const onePassMs = performance.now() - t0;
  const merged = Number((await db.query(`SELECT count(*) AS n FROM bench_target_one`)).rows[0].n);
  if (merged !== ROWS) throw new Error(`the one-pass statement merged ${merged} of ${ROWS} rows`);
  t0 = performance.now();
  await db.query(
    `WITH latest AS (SELECT s.* FROM bench_staging s), ` +
      `won AS (INSERT INTO bench_row_state (table_id, key, lsn, part, deleted) SELECT 1, l.key, l.lsn, 0, false FROM latest l ` +
      `ON CONFLICT (table_id, key) DO UPDATE SET lsn = excluded.lsn, part = excluded.part, deleted = excluded.deleted WHERE bench_row_state.lsn <= excluded.lsn RETURNING key) ` +
      `INSERT INTO bench_target_side (${names.map(quoteIdent).join(", ")}) SELECT ${names.map((n) => `l.${quoteIdent(n)}`).join(", ")} FROM latest l JOIN won w ON w.key = l.key ` +
      `ON CONFLICT (id) DO UPDATE SET ${set}`,
  );
  const sideMs = performance.now() - t0;
  await db.end();

  const rate = (ms) => Math.round(ROWS / (ms / 1000));
  const pathMs = stagingMs + validateMs + mergeMs;
  console.log(`${ROWS.toLocaleString("en")} rows; ${cpus().length} cores (${cpus()[0]?.model}); node ${process.version}`);
  console.log(`copy into the plain table   ${rate(copyMs).toLocaleString("en").padStart(9)} rows/s (${(copyMs / 1000).toFixed(2)} s)`);
  console.log(`copy into staging           ${rate(stagingMs).toLocaleString("en").padStart(9)} rows/s (${(stagingMs / 1000).toFixed(2)} s)`);
  console.log(`validate in SQL (0 bad)     ${rate(validateMs).toLocaleString("en").padStart(9)} rows/s (${(validateMs / 1000).toFixed(2)} s)`);
  console.log(`merge, LSN-guarded          ${rate(mergeMs).toLocaleString("en").padStart(9)} rows/s (${(mergeMs / 1000).toFixed(2)} s)`);
  console.log(`staging + validate + merge  ${rate(pathMs).toLocaleString("en").padStart(9)} rows/s: ${((copyMs / pathMs) * 100).toFixed(1)}% of the plain COPY rate`);
  const oneMs = stagingMs + onePassMs;
  console.log(`validate + merge, one pass  ${rate(onePassMs).toLocaleString("en").padStart(9)} rows/s (${(onePassMs / 1000).toFixed(2)} s)`);
  console.log(`staging + one pass          ${rate(oneMs).toLocaleString("en").padStart(9)} rows/s: ${((copyMs / oneMs) * 100).toFixed(1)}% of the plain COPY rate`);
  const sidePath = stagingMs + validateMs + sideMs;
  console.log(`merge, side table + dedup   ${rate(sideMs).toLocaleString("en").padStart(9)} rows/s (${(sideMs / 1000).toFixed(2)} s)`);
  console.log(`staging + validate + side   ${rate(sidePath).toLocaleString("en").padStart(9)} rows/s: ${((copyMs / sidePath) * 100).toFixed(1)}% of the plain COPY rate`);
} finally {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
}
