// The demo's concurrent workload on the source: payments made (insert payment + two ledger
// entries + two balance updates), settled (an update that leaves the TOASTed remittance
// alone), refunded (a delete that cascades to the ledger, balances restored) and account
// profiles edited — each one source transaction, paced to a rate, on several connections.
// Accounts are always locked in ascending id order, so the workers never deadlock one another;
// should PostgreSQL still report a deadlock or serialization failure, the transaction is
// retried and counted, never dropped.
import pg from "pg";
import { ZerolossError } from "@zeroloss/errors";
import { inTransaction } from "@zeroloss/pg";
import { REMITTANCE_SQL, RISK_SQL } from "./schema.js";

export type Operation = "pay" | "settle" | "refund" | "profile";

export interface WorkloadStats {
  readonly transactions: number;
  readonly byOperation: Readonly<Record<Operation, number>>;
  /** Transactions PostgreSQL aborted (deadlock, serialization) and that were run again. */
  readonly retried: number;
  readonly seconds: number;
}

export interface WorkloadOptions {
  readonly url: string;
  readonly accounts: number;
  /** Source transactions per second, over all connections. */
  readonly rate: number;
  readonly seconds: number;
  readonly connections?: number;
  /** Stops early when it returns true (Ctrl-C). */
  readonly stopped?: () => boolean;
}

const RETRIABLE = new Set(["40P01", "40001"]);

function pick(): Operation {
  const r = Math.random();
  return r < 0.5 ? "pay" : r < 0.8 ? "settle" : r < 0.9 ? "refund" : "profile";
}

const randomAccount = (n: number) => 1 + Math.floor(Math.random() * n);

/** A payment id near a random point of the id range (payments are deleted, so ids have gaps). */
async function somePayment(c: pg.Client, where: string): Promise<{ id: string; from: string; to: string; amount: string } | undefined> {
  const r = await c.query<{ id: string; from_account: string; to_account: string; amount: string }>(
    `SELECT id::text, from_account::text, to_account::text, amount::text FROM payments
     WHERE id >= (SELECT floor(random() * (max(id) + 1))::bigint FROM payments) AND ${where}
     ORDER BY id LIMIT 1 FOR UPDATE`,
  );
  const row = r.rows[0];
  return row === undefined ? undefined : { id: row.id, from: row.from_account, to: row.to_account, amount: row.amount };
}

/** Balances of two accounts moved by `amount` (from → to), locking the lower id first. */
async function move(c: pg.Client, from: string | number, to: string | number, amount: string): Promise<void> {
  const changes: [string, string][] = [
    [String(from), `-${amount}`],
    [String(to), amount],
  ];
  changes.sort((a, b) => Number(a[0]) - Number(b[0]));
  for (const [account, delta] of changes) await c.query("UPDATE accounts SET balance = balance + $2::numeric WHERE id = $1", [account, delta]);
}

async function run(c: pg.Client, op: Operation, accounts: number): Promise<void> {
  switch (op) {
    case "pay": {
      const from = randomAccount(accounts);
      const to = 1 + ((from + randomAccount(accounts - 1) - 1) % accounts);
      const amount = (1 + Math.random() * 2500).toFixed(2);
      const remittance = Math.random() < 0.2 ? REMITTANCE_SQL : "NULL";
      return inTransaction(c, `a demo ${op}`, async () => {
        const p = await c.query<{ id: string }>(
          `INSERT INTO payments (from_account, to_account, amount, currency, status, created_at, updated_at, risk, remittance)
           VALUES ($1, $2, $3, 'EUR', 'pending', now(), now(), ${RISK_SQL("$1::bigint")}, ${remittance}) RETURNING id::text AS id`,
          [from, to, amount],
        );
        const id = p.rows[0]?.id;
        await c.query(
          `INSERT INTO ledger_entries (payment_id, account_id, amount, booked_at, memo)
           VALUES ($1, $2, -$4::numeric, now(), 'debit'), ($1, $3, $4::numeric, now(), 'credit')`,
          [id, from, to, amount],
        );
        await move(c, from, to, amount);
      });
    }
    case "settle":
      return inTransaction(c, `a demo ${op}`, async () => {
        const p = await somePayment(c, "status = 'pending'");
        if (p === undefined) return;
        await c.query(
          `UPDATE payments SET status = 'settled', updated_at = now(),
             risk = jsonb_set(risk, '{reviewed}', to_jsonb(clock_timestamp()::text)) WHERE id = $1`,
          [p.id],
        );
      });
    case "refund":
      return inTransaction(c, `a demo ${op}`, async () => {
        const p = await somePayment(c, "true");
        if (p === undefined) return;
        await c.query("DELETE FROM payments WHERE id = $1", [p.id]); // its ledger entries go with it
        await move(c, p.to, p.from, p.amount);
      });
    case "profile":
      return inTransaction(c, `a demo ${op}`, async () => {
        await c.query(
          `UPDATE accounts SET profile = profile || jsonb_build_object('note', $2::text, 'edited', clock_timestamp()) WHERE id = $1`,
          [randomAccount(accounts), `reviewed ${new Date().toISOString()}`],
        );
      });
  }
}

/** Runs the workload for `seconds` (or until stopped); throws on any error that is not retriable. */
export async function runWorkload(o: WorkloadOptions): Promise<WorkloadStats> {
  const byOperation: Record<Operation, number> = { pay: 0, settle: 0, refund: 0, profile: 0 };
  let retried = 0;
  const started = Date.now();
  const end = started + o.seconds * 1000;
  const interval = 1000 / o.rate;
  let next = started;
  const clients = Array.from({ length: o.connections ?? 4 }, () => {
    const c = new pg.Client({ connectionString: o.url, application_name: "zeroloss demo workload" });
    c.on("error", () => undefined); // a connection lost between two transactions: the next query fails and names it
    return c;
  });
  try {
    await Promise.all(clients.map((c) => c.connect()));
    await Promise.all(
      clients.map(async (c) => {
        for (;;) {
          // Each worker takes the next slot of the schedule; behind schedule it runs at once.
          const at = next;
          next += interval;
          if (at >= end || o.stopped?.() === true) return;
          const wait = at - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait)); // pacing to the rate asked for
          const op = pick();
          for (let attempt = 1; ; attempt++) {
            try {
              await run(c, op, o.accounts);
              break;
            } catch (err) {
              // A raw pg error carries the SQLSTATE as its code; one from BEGIN/COMMIT comes wrapped.
              const sqlstate = err instanceof ZerolossError ? err.details["sqlstate"] : (err as { code?: unknown }).code;
              if (typeof sqlstate === "string" && RETRIABLE.has(sqlstate) && attempt < 5) {
                retried++;
                continue;
              }
              throw new ZerolossError("DEMO_WORKLOAD_FAILED", `the demo workload's ${op} transaction failed on the source: ${(err as Error).message}`, { cause: err });
            }
          }
          byOperation[op]++;
        }
      }),
    );
  } catch (err) {
    await Promise.allSettled(clients.map((c) => c.end())); // the workload's own error is the one to report
    throw err;
  }
  await Promise.all(clients.map((c) => c.end()));
  const transactions = Object.values(byOperation).reduce((a, b) => a + b, 0);
  return { transactions, byOperation, retried, seconds: (Date.now() - started) / 1000 };
}
