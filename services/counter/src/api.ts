// The counter's HTTP API and dashboard, as routes for the shared HTTP server
// (packages/observability): /api/summary, /api/windows, /api/transactions, and the live
// dashboard at / (dashboard.ts). Every answer is read from the ledger when asked.
import type { ServerResponse } from "node:http";
import type { Route } from "@zeroloss/observability";
import { serviceError, type Client } from "@zeroloss/pg";
import { DASHBOARD_HTML } from "./dashboard.js";
import { TRANSACTION_STATES, WINDOW_STATES, type SlotState, type TransactionState, type WindowState } from "@zeroloss/wire";
import { summary } from "./summary.js";
import { listTransactions } from "./transaction-states.js";
import { listWindows } from "./window-states.js";

export interface ApiOptions {
  readonly graceSeconds: number;
  /** The counter's last slot check, for the summary. */
  readonly slot: () => SlotState;
  readonly db: () => Promise<Client>;
  /** Called after a failed read: the connection is dropped, the next read reconnects. */
  readonly readFailed: () => void;
}

function json(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(`${JSON.stringify(body)}\n`);
  return true;
}

function badRequest(res: ServerResponse, message: string): true {
  return json(res, 400, { error: message });
}

/** Answers with what `read` finds in the ledger; 503 while the ledger cannot be reached, 500 for anything else, each with the error's code. */
async function fromLedger(res: ServerResponse, what: string, read: () => Promise<unknown>, readFailed: () => void): Promise<true> {
  let body: unknown;
  try {
    body = await read();
  } catch (err) {
    readFailed();
    const e = serviceError(err, "querying it");
    return json(res, e.retriable ? 503 : 500, { error: `the ledger (counter.url) could not be read for ${what}: ${e.message}`, code: e.code });
  }
  return json(res, 200, body);
}

export function apiRoutes(o: ApiOptions): Route[] {
  const ledger = (res: ServerResponse, what: string, read: () => Promise<unknown>) => fromLedger(res, what, read, o.readFailed);
  return [
    async (req, res, url) => {
      if (req.method !== "GET") return false;
      switch (url.pathname) {
        case "/":
        case "/dashboard":
          res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
          res.end(DASHBOARD_HTML);
          return true;
        case "/api/summary":
          return ledger(res, "the summary", async () => summary(await o.db(), o.graceSeconds, o.slot()));
        case "/api/windows": {
          const q = url.searchParams;
          const state = q.get("state") ?? undefined;
          if (state !== undefined && !(WINDOW_STATES as readonly string[]).includes(state)) return badRequest(res, `state must be one of ${WINDOW_STATES.join(", ")}`);
          const partition = q.get("partition");
          if (partition !== null && !/^\d+$/.test(partition)) return badRequest(res, "partition must be a non-negative integer");
          const limit = q.get("limit");
          if (limit !== null && !/^\d+$/.test(limit)) return badRequest(res, "limit must be a non-negative integer");
          const topic = q.get("topic") ?? undefined;
          return ledger(res, "windows", async () => ({
            windows: await listWindows(await o.db(), {
              ...(topic === undefined || topic === "" ? {} : { topic }),
              ...(partition === null ? {} : { partition: Number(partition) }),
              ...(state === undefined ? {} : { state: state as WindowState }),
              ...(limit === null ? {} : { limit: Number(limit) }),
            }),
          }));
        }
        case "/api/transactions": {
          const state = url.searchParams.get("state");
          if (state !== null && !(TRANSACTION_STATES as readonly string[]).includes(state)) return badRequest(res, `state must be one of ${TRANSACTION_STATES.join(", ")}`);
          return ledger(res, "transactions", async () => ({ transactions: await listTransactions(await o.db(), o.graceSeconds, state as TransactionState | null) }));
        }
        default:
          return false;
      }
    },
  ];
}
