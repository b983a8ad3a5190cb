// The live dashboard: one self-contained page (no CDN, no build step) that polls
// /api/summary every 2 seconds and shows the totals per stage in records and in rows, the
// snapshots' progress per table, each partition with its last balanced offset and lag, and
// the windows needing attention, mismatches highlighted.
// Element ids and data attributes are what test/counter/dashboard.test.ts reads.
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>zeroloss counter</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d1d1f; background: #fafafa; }
  h1 { font-size: 1.3rem; margin: 0 0 .5rem; }
  h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
  #status { padding: .6rem 1rem; border-radius: 6px; font-weight: 600; }
  #status.ok { background: #e3f5e1; color: #1e6b1a; }
  #status.problem { background: #fde2e1; color: #9b1c1c; }
  #status.unknown { background: #eee; color: #555; }
  .totals { display: flex; gap: .75rem; flex-wrap: wrap; }
  .stage { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .5rem .9rem; min-width: 8rem; }
  .stage .n { font-size: 1.4rem; font-variant-numeric: tabular-nums; }
  .stage .label { color: #666; font-size: .8rem; text-transform: uppercase; }
  table { border-collapse: collapse; background: #fff; }
  th, td { border: 1px solid #ddd; padding: .3rem .6rem; text-align: left; font-variant-numeric: tabular-nums; }
  th { background: #f0f0f0; }
  tr.state-mismatch td { background: #fde2e1; color: #9b1c1c; font-weight: 600; }
  tr.state-attention td { background: #fff4d6; }
  tr.state-behind td { background: #f3f3f3; }
  .muted { color: #777; }
</style>
</head>
<body>
<h1>zeroloss counter</h1>
<div id="status" class="unknown">loading…</div>
<p class="muted">Updated <span id="updated">never</span>. A window is a mismatch only when the counter has read far enough to prove it; until then it is behind.</p>
<h2>Totals (records)</h2>
<div class="totals" id="totals"></div>
<h2>Totals (rows)</h2>
<p class="muted">A bulk snapshot record holds many rows; every other record one.</p>
<div class="totals" id="row-totals"></div>
<h2>Snapshots</h2>
<table id="snapshots"><thead><tr><th>table</th><th>kind</th><th>rows in Kafka</th><th>estimated</th><th>done</th><th>rows/s</th><th>time left</th></tr></thead><tbody></tbody></table>
<p id="no-snapshots" class="muted">None seen.</p>
<h2>Windows by state</h2>
<div class="totals" id="window-states"></div>
<h2>Partitions</h2>
<table id="partitions"><thead><tr><th>topic</th><th>partition</th><th>emitted</th><th>in Kafka</th><th>written</th><th>last balanced offset</th><th>counter read to</th><th>Kafka lag</th><th>target lag</th></tr></thead><tbody></tbody></table>
<h2>Windows needing attention</h2>
<table id="attention"><thead><tr><th>state</th><th>topic</th><th>partition</th><th>offsets</th><th>emitted</th><th>in Kafka</th><th>applied</th><th>duplicate</th><th>quarantined</th><th>why</th></tr></thead><tbody></tbody></table>
<p id="no-attention" class="muted">None.</p>
<script>
"use strict";
const STAGES = ["emitted", "transferred", "applied", "duplicate", "quarantined", "replayed"];
const ROW_STAGES = ["emitted", "transferred", "applied", "duplicate", "quarantined"];
const duration = (s) => s === null || s === undefined ? "–" : s < 90 ? s + " s" : s < 5400 ? Math.round(s / 60) + " min" : (s / 3600).toFixed(1) + " h";
const fmt = (n) => n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US");
function cell(tr, text) { const td = document.createElement("td"); td.textContent = text; tr.appendChild(td); }
function tiles(el, entries, attr) {
  el.replaceChildren(...entries.map(([k, v]) => {
    const d = document.createElement("div");
    d.className = "stage";
    d.setAttribute(attr, k);
    const n = document.createElement("div"); n.className = "n"; n.textContent = fmt(v);
    const l = document.createElement("div"); l.className = "label"; l.textContent = k;
    d.append(n, l);
    return d;
  }));
}
function render(s) {
  const status = document.getElementById("status");
  const bad = s.windows.mismatch + s.windows.attention + s.transactions.incomplete + (s.windows.attention === 0 && s.totals.quarantined > 0 ? 1 : 0);
  status.className = s.ok ? "ok" : "problem";
  status.textContent = s.ok
    ? "Every change is accounted for" + (s.windows.behind > 0 ? " so far (" + s.windows.behind + " window(s) behind: records on their way)" : "")
    : (s.problems && s.problems.length > 0 ? s.problems.join(" ") + " " : "") + bad + " problem(s): " + s.windows.mismatch + " window(s) in mismatch, " + s.windows.attention + " with quarantined records, " + s.transactions.incomplete + " incomplete transaction(s)";
  document.getElementById("updated").textContent = new Date(s.at).toLocaleTimeString();
  tiles(document.getElementById("totals"), STAGES.map((k) => [k, s.totals[k]]), "data-stage");
  tiles(document.getElementById("row-totals"), ROW_STAGES.map((k) => [k, s.totals.rows ? s.totals.rows[k] : null]), "data-row-stage");
  const snaps = s.snapshots || [];
  const sb = document.querySelector("#snapshots tbody");
  sb.replaceChildren(...snaps.map((t) => {
    const tr = document.createElement("tr");
    tr.dataset.table = t.table;
    const pct = t.estimatedRows ? " (" + Math.min(100, Math.floor(100 * t.rows / t.estimatedRows)) + "%)" : "";
    for (const v of [t.table, t.kind, fmt(t.rows) + pct, fmt(t.estimatedRows), t.done ? "done" : "running", fmt(t.rowsPerSecond), t.done ? "–" : duration(t.etaSeconds)]) cell(tr, String(v));
    return tr;
  }));
  document.getElementById("no-snapshots").hidden = snaps.length > 0;
  tiles(document.getElementById("window-states"), Object.entries(s.windows), "data-state");
  const pb = document.querySelector("#partitions tbody");
  pb.replaceChildren(...s.partitions.map((p) => {
    const tr = document.createElement("tr");
    for (const v of [p.topic, p.partition, fmt(p.emitted), fmt(p.transferred), fmt(p.written), fmt(p.lastBalancedOffset), fmt(p.readTo), fmt(p.kafkaLag), fmt(p.targetLag)]) cell(tr, String(v));
    return tr;
  }));
  const ab = document.querySelector("#attention tbody");
  ab.replaceChildren(...s.needsAttention.map((w) => {
    const tr = document.createElement("tr");
    tr.className = "state-" + w.state;
    tr.dataset.state = w.state;
    for (const v of [w.state, w.topic, w.partition, w.windowStart + "–" + w.windowEnd, fmt(w.emitted), fmt(w.transferred), fmt(w.applied), fmt(w.duplicate), fmt(w.quarantined), w.problems.join("; ")]) cell(tr, String(v));
    return tr;
  }));
  document.getElementById("no-attention").hidden = s.needsAttention.length > 0;
}
// With counter.http.tokenFile set, open the dashboard as /#token=<the token>: the fragment never leaves the browser.
const token = new URLSearchParams(location.hash.slice(1)).get("token");
async function tick() {
  try {
    const res = await fetch("api/summary", { cache: "no-store", headers: token ? { authorization: "Bearer " + token } : {} });
    if (res.status === 401) throw new Error("the counter asks for its HTTP token: open this page as /#token=<the token in counter.http.tokenFile>");
    if (!res.ok) throw new Error("HTTP " + res.status);
    render(await res.json());
  } catch (err) {
    const status = document.getElementById("status");
    status.className = "unknown";
    status.textContent = "The counter cannot be reached: " + err.message;
  }
}
tick();
setInterval(tick, 2000);
</script>
</body>
</html>
`;
