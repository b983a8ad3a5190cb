// The side-by-side benchmark's workload: three tables of realistic rows (customers, orders,
// order events) and transactions that mix inserts, updates and deletes in fixed shares.
// The same generator serves both modes:
//   - backlog: `backlog(client, changes, txnChanges)` writes big set-based transactions
//     while no pipeline runs (their slots exist, so the WAL waits for them);
//   - fixed rate: `fixedRate(urls, rate, seconds)` paces small transactions on a few
//     connections while a pipeline runs.
// Every id is handed out by the generator, so a run is deterministic in what it writes;
// updates and deletes address rows inserted by earlier transactions (8 or more back).

export const TABLES = ["customers", "orders", "order_events"];

export const SCHEMA_SQL = `
CREATE TABLE customers (
  id bigint PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL,
  country char(2) NOT NULL,
  balance numeric(18,2) NOT NULL,
  updated_at timestamptz NOT NULL,
  profile jsonb NOT NULL,
  rev integer NOT NULL DEFAULT 0
);
CREATE TABLE orders (
  id bigint PRIMARY KEY,
  customer_id bigint NOT NULL,
  status text NOT NULL,
  total numeric(18,2) NOT NULL,
  currency char(3) NOT NULL,
  placed_at timestamptz NOT NULL,
  note text,
  rev integer NOT NULL DEFAULT 0
);
CREATE TABLE order_events (
  id bigint PRIMARY KEY,
  order_id bigint NOT NULL,
  kind text NOT NULL,
  payload jsonb NOT NULL,
  at timestamptz NOT NULL,
  rev integer NOT NULL DEFAULT 0
);`;

/** The columns compared by content (a target may add its own, such as zeroloss's LSN). */
export const COLUMNS = {
  customers: ["id", "name", "email", "country", "balance", "updated_at", "profile", "rev"],
  orders: ["id", "customer_id", "status", "total", "currency", "placed_at", "note", "rev"],
  order_events: ["id", "order_id", "kind", "payload", "at", "rev"],
};

// Shares of one transaction's changes: 60% inserts (1 customer : 3 orders : 6 events),
// 30% updates (1 customer : 2 orders), 10% deletes (events).
function shape(changes) {
  const inserts = Math.round(changes * 0.6);
  const updates = Math.round(changes * 0.3);
  const deletes = changes - inserts - updates;
  const insCustomers = Math.max(1, Math.round(inserts / 10));
  const insOrders = Math.round((inserts - insCustomers) / 3);
  const updCustomers = Math.round(updates / 3);
  return {
    insCustomers,
    insOrders,
    insEvents: inserts - insCustomers - insOrders,
    updCustomers,
    updOrders: updates - updCustomers,
    delEvents: deletes,
  };
}

// Set-based statements over id ranges: the server builds the rows, so even the backlog's
// million changes cost the generator little. $1..$2 is the id range.
const INSERT = {
  customers: `INSERT INTO customers (id, name, email, country, balance, updated_at, profile)
SELECT g, 'Customer ' || g || ' ' || substr(md5(g::text), 1, 12),
       'c' || g || '@' || (ARRAY['example.com','mail.test','bank.example'])[1 + g % 3],
       (ARRAY['DE','FR','US','GB','NL','SE','JP','BR'])[1 + g % 8],
       ((g * 7919) % 10000000)::numeric / 100,
       clock_timestamp(),
       jsonb_build_object('tier', (ARRAY['basic','gold','platinum'])[1 + g % 3], 'risk', (g % 100) / 100.0, 'tags', jsonb_build_array('t' || g % 7, 't' || g % 11))
  FROM generate_series($1::bigint, $2::bigint) g`,
  orders: `INSERT INTO orders (id, customer_id, status, total, currency, placed_at, note)
SELECT g, 1 + (g * 31) % $3::bigint, 'placed', ((g * 104729) % 100000000)::numeric / 100,
       (ARRAY['EUR','USD','GBP'])[1 + g % 3], clock_timestamp(),
       CASE WHEN g % 4 = 0 THEN NULL ELSE 'deliver to door ' || g || ', ' || repeat(substr(md5(g::text), 1, 16), (1 + g % 4)::int) END
  FROM generate_series($1::bigint, $2::bigint) g`,
  order_events: `INSERT INTO order_events (id, order_id, kind, payload, at)
SELECT g, 1 + (g * 13) % $3::bigint, (ARRAY['created','paid','packed','shipped','delivered'])[1 + g % 5],
       jsonb_build_object('source', 'web', 'ip', '10.' || g % 256 || '.' || (g / 256) % 256 || '.1', 'amount', ((g * 17) % 100000) / 100.0, 'fraud', jsonb_build_object('score', (g % 1000) / 1000.0, 'signals', jsonb_build_array('velocity', 'geo'))),
       clock_timestamp()
  FROM generate_series($1::bigint, $2::bigint) g`,
};
const UPDATE = {
  customers: `UPDATE customers SET balance = balance + 1.25, updated_at = clock_timestamp(), rev = rev + 1,
  profile = jsonb_set(profile, '{risk}', to_jsonb(((id + rev) % 100) / 100.0)) WHERE id BETWEEN $1 AND $2`,
  orders: `UPDATE orders SET status = (ARRAY['paid','packed','shipped','delivered'])[1 + (rev % 4)], total = total + 0.01, rev = rev + 1 WHERE id BETWEEN $1 AND $2`,
};
const DELETE_EVENTS = "DELETE FROM order_events WHERE id BETWEEN $1 AND $2";

/**
 * Hands out id ranges: inserts take the next ids; updates walk over ids inserted before
 * (wrapping around); deletes take the oldest events not yet deleted.
 */
export class Workload {
  next = { customers: 1, orders: 1, order_events: 1 };
  updCursor = { customers: 1, orders: 1 };
  delCursor = 1;

  /** The statements of one transaction of `changes` row changes, as [sql, params] pairs. */
  transaction(changes) {
    const s = shape(changes);
    const stmts = [];
    const insert = (table, n) => {
      if (n <= 0) return;
      const from = this.next[table];
      this.next[table] += n;
      stmts.push([INSERT[table], table === "customers" ? [from, from + n - 1] : [from, from + n - 1, Math.max(1, this.next.customers - 1)]]);
    };
    // Updates and deletes trail the inserts by 8 transactions' worth of rows: with 4
    // connections the rows they address were committed, so every statement changes the rows
    // it names and a run's change count does not depend on how fast the machine is.
    const update = (table, n) => {
      const inserted = this.next[table] - 1 - 8 * (table === "customers" ? s.insCustomers : s.insOrders);
      if (n <= 0 || inserted < n) return;
      let from = this.updCursor[table];
      if (from + n - 1 > inserted) from = 1;
      this.updCursor[table] = from + n;
      stmts.push([UPDATE[table], [from, from + n - 1]]);
    };
    insert("customers", s.insCustomers);
    insert("orders", s.insOrders);
    insert("order_events", s.insEvents);
    update("customers", s.updCustomers);
    update("orders", s.updOrders);
    const deletable = this.next.order_events - 1 - 8 * s.insEvents;
    if (s.delEvents > 0 && this.delCursor + s.delEvents - 1 <= deletable) {
      stmts.push([DELETE_EVENTS, [this.delCursor, this.delCursor + s.delEvents - 1]]);
      this.delCursor += s.delEvents;
    }
    return stmts;
  }
}

/** Runs one transaction's statements; returns the row changes it made. */
export async function runTransaction(client, stmts) {
  let changed = 0;
  await client.query("BEGIN");
  try {
    for (const [text, params] of stmts) changed += (await client.query(text, params)).rowCount ?? 0;
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK");
    throw err;
  }
  return changed;
}

/** The backlog: `changes` row changes in transactions of `txnChanges`, one after another. */
export async function backlog(client, changes, txnChanges, onProgress = () => {}) {
  const w = new Workload();
  let done = 0;
  while (done < changes) {
    const n = await runTransaction(client, w.transaction(Math.min(txnChanges, changes - done)));
    done += n;
    onProgress(done);
  }
  return done;
}

/**
 * Fixed rate: transactions of `txnChanges` changes started on a schedule of `rate` changes a
 * second for `seconds`, spread over the given clients (each runs one transaction at a time).
 * A transaction starts when its slot in the schedule comes and a client is free; `behindMs`
 * reports how late the schedule ran at worst (the workload itself must keep up). Pass the
 * same `workload` to continue its ids.
 */
export async function fixedRate(clients, rate, seconds, { txnChanges = 10, workload = new Workload() } = {}) {
  const w = workload;
  const total = Math.round(((rate * seconds) / txnChanges));
  const intervalMs = (1000 * txnChanges) / rate;
  const t0 = performance.now();
  let issued = 0;
  let changed = 0;
  let behindMs = 0;
  async function lane(client) {
    while (issued < total) {
      const i = issued++;
      const due = t0 + i * intervalMs;
      const wait = due - performance.now();
      // Pacing to the schedule: the workload's rate, not a wait for a condition.
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else behindMs = Math.max(behindMs, -wait);
      const n = await runTransaction(client, w.transaction(txnChanges)); // not `changed += await …`: that reads `changed` before the await
      changed += n;
    }
  }
  await Promise.all(clients.map((c) => lane(c)));
  return { transactions: total, changes: changed, seconds: (performance.now() - t0) / 1000, behindMs: Math.round(behindMs) };
}

/**
 * Per table: row count and an order-independent digest of the compared columns, computed by
 * the server over its stored values. Equal on both sides = equal content.
 */
export async function tableDigests(client) {
  const out = {};
  for (const t of TABLES) {
    const cols = COLUMNS[t].map((c) => `"${c}"`).join(", ");
    const { rows } = await client.query(
      `SELECT count(*)::bigint AS n, coalesce(sum(('x' || substr(md5(row(${cols})::text), 1, 15))::bit(60)::bigint), 0)::text AS digest FROM "${t}"`,
    );
    out[t] = { rows: Number(rows[0].n), digest: rows[0].digest };
  }
  return out;
}

/** A cheap fingerprint polled while a pipeline drains: count, sum of revisions, sum of ids. */
export async function tableFingerprints(client) {
  const out = {};
  for (const t of TABLES) {
    const { rows } = await client.query(`SELECT count(*)::bigint AS n, coalesce(sum(rev), 0)::bigint AS r, coalesce(sum(id), 0)::numeric AS i FROM "${t}"`);
    out[t] = `${rows[0].n}/${rows[0].r}/${rows[0].i}`;
  }
  return out;
}
