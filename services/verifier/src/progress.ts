// Progress of a long verification on the terminal (stderr): rows compared, rows/s, and an
// ETA from the catalog's row estimate. Redrawn in place on a TTY at most every 250 ms;
// elsewhere a line every 10 s, so CI logs stay readable.
import type { Progress } from "./verify.js";

export function progressPrinter(out: NodeJS.WriteStream = process.stderr): { update(p: Progress): void; done(): void } {
  const tty = out.isTTY === true;
  const every = tty ? 250 : 10_000;
  let last = 0;
  let drawn = false;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < every) return;
      last = now;
      const secs = Math.max(0.001, (now - p.startedAt) / 1000);
      const rate = p.rows / secs;
      const total = p.estimatedRows !== null && p.estimatedRows >= p.rows ? p.estimatedRows : null;
      const pct = total === null || total === 0 ? "" : ` (${Math.floor((100 * p.rows) / total)}%)`;
      const eta = total === null || rate === 0 ? "" : `, ETA ${Math.ceil((total - p.rows) / rate)} s`;
      const line = `verify: ${p.table}: ${p.rows.toLocaleString("en-US")}${total === null ? "" : ` / ~${total.toLocaleString("en-US")}`} rows${pct}, ${Math.round(rate).toLocaleString("en-US")} rows/s${eta}`;
      if (tty) {
        out.write(`\r\x1b[2K${line}`);
        drawn = true;
      } else out.write(`${line}\n`);
    },
    done() {
      if (drawn) out.write("\r\x1b[2K");
    },
  };
}
