// Variants of the consumer's validating SELECT on one staged batch (8,000 rows of the
// benchmark row, staged the way the consumer stages them) against a target of N rows:
// the checksum with each value's text output inline (plain) or once per row (lateral), and
// the duplicate check as a join (dupHash) or as one index probe per row (dupSub). Prints
// µs per staged row, three rounds of five runs each.
// Usage: npm run build && node bench/consumer/validate-sql.mjs [N, default 200000]
import { checksumSql, quoteIdent, textOutputSql } from "@zeroloss/checksum";
import { startDevStack } from "@zeroloss/devstack";
import { createLogger } from "@zeroloss/observability";
import { connect } from "@zeroloss/pg";
import { TABLE_DDL, insertBacklog } from "../common.mjs";
const N = Number(process.argv[2] ?? 200000);
const log = createLogger({ name: "bench", level: "warn", pretty: true });
const stack = await startDevStack({ brokers: 1, log });
const db = await connect(stack.target, {});
const names = ["id", "amount", "note", "created", "attrs"];
try {
  await db.query(TABLE_DDL());
  await insertBacklog(db, N, 50000);
  await db.query(`CREATE TABLE tgt (LIKE bench_rows INCLUDING ALL, _zeroloss_lsn pg_lsn)`);
  await db.query(`INSERT INTO tgt SELECT *, '0/10'::pg_lsn FROM bench_rows`);
  await db.query(`CREATE UNLOGGED TABLE st AS SELECT id AS "zl$n", '{"id":"'||id||'"}' AS "zl$key", '0/20'::pg_lsn AS "zl$lsn", 'c'::"char" AS "zl$op", ''::text AS "zl$sum", NULL::int[] AS "zl$unch", NULL::int[] AS "zl$absent", false AS "zl$bad", b.* FROM bench_rows b ORDER BY random() LIMIT 8000`);
  await db.query("VACUUM ANALYZE tgt");
  const sumOf = (f) => checksumSql(names.map((n, i) => ({ name: n, textSql: f(n, i) })));
  const variants = {
    plain: `SELECT count(*) FROM st s WHERE ${sumOf((n) => textOutputSql(`s.${quoteIdent(n)}`))} IS DISTINCT FROM s."zl$sum"`,
    lateral: `SELECT count(*) FROM st s CROSS JOIN LATERAL (SELECT ${names.map((n, i) => `${textOutputSql(`s.${quoteIdent(n)}`)} AS c${i}`).join(", ")} OFFSET 0) x WHERE ${sumOf((n, i) => `x.c${i}`)} IS DISTINCT FROM s."zl$sum"`,
    dupHash: `SELECT count(*) FROM st s LEFT JOIN tgt t ON t.id = s.id WHERE s."zl$lsn" <= GREATEST(t._zeroloss_lsn, '0/0')`,
    dupSub: `SELECT count(*) FROM st s WHERE s."zl$lsn" <= GREATEST((SELECT t._zeroloss_lsn FROM tgt t WHERE t.id = s.id), '0/0')`,
  };
  for (let r = 0; r < 3; r++) for (const [k, q] of Object.entries(variants)) {
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) await db.query(q);
    console.log(k.padEnd(12), ((performance.now() - t0) / 5 / 8000 * 1000).toFixed(2), "µs/row");
  }
} finally { await db.end(); await stack.stop(); }
