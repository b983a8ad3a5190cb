// The certificate as a page a person reads: made from the JSON alone, self-contained (inline
// CSS, no script, nothing fetched), every string from the document escaped. The page is a view,
// not the proof: it says so, and how to verify the JSON it was made from.
import { cutoverProblems } from "./cutover-claims.js";
import type { Certificate, CutoverRecord, DatabaseIdentity, TableDigest } from "./types.js";

/** Text safe in HTML content and in a double-quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const CSS = `body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1a1a1a;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}code{font-family:ui-monospace,monospace;font-size:.82rem;word-break:break-all}
.ok{color:#0a6b2c;font-weight:600}.bad{color:#a40e0e;font-weight:600}.verdict{font-size:1.2rem;padding:.6rem 1rem;border-radius:4px;display:inline-block}
.verdict.ok{background:#e3f4e8}.verdict.bad{background:#fbe4e4}.note{color:#555;font-size:.9rem}`;

function identityRows(label: string, id: DatabaseIdentity): string {
  const cell = (v: string | null) => `<td><code>${v === null ? "(not readable by the role)" : escapeHtml(v)}</code></td>`;
  return `<tr><th>${label}</th>${cell(id.hostPort)}${cell(id.database)}${cell(id.systemIdentifier)}${cell(id.serverVersion)}</tr>`;
}

function digestCells(d: TableDigest | null): string {
  if (d === null) return `<td class="num">-</td><td><span class="bad">missing on this side</span></td>`;
  return `<td class="num">${escapeHtml(String(d.rows))}</td><td><code>${escapeHtml(d.hash)}</code></td>`;
}

const num = (n: number) => `<td class="num">${escapeHtml(n.toLocaleString("en-US"))}</td>`;
const byState = (counts: Readonly<Record<string, number>>) =>
  escapeHtml(
    Object.entries(counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(", "),
  );

function cutoverSection(c: CutoverRecord): string {
  const e = escapeHtml;
  const mark = (ok: boolean, yes: string, no: string) => (ok ? `<span class="ok">${e(yes)}</span>` : `<span class="bad">${e(no)}</span>`);
  const stage = (label: string, s: CutoverRecord["counter"]["records"]) =>
    `<tr><th>${label}</th>${num(s.emitted)}${num(s.transferred)}${num(s.applied)}${num(s.duplicate)}${num(s.quarantined)}</tr>`;
  const sequences = c.sequences
    .map(
      (s) =>
        `<tr><td><code>${e(s.sequence)}</code></td><td>${e(s.ownedBy ?? "-")}</td><td class="num">${e(s.sourceNext ?? "-")}</td>` +
        `<td class="num">${e(s.targetBefore ?? "-")}</td><td class="num">${e(s.targetAfter ?? "-")}</td><td>${e(s.action)}</td></tr>`,
    )
    .join("\n");
  const constraints = c.constraints
    .map((k) => `<tr><td><code>${e(k.table)}</code></td><td><code>${e(k.constraint)}</code></td><td><code>${e(k.references)}</code></td>${num(k.orphans)}<td>${mark(k.valid, "valid", "violated")}</td></tr>`)
    .join("\n");
  return `<h2>Cutover</h2>
<table>
<tr><th>fence</th><td>${e(c.fence.mode === "read-only" ? `read-only for ${c.fence.roles.join(", ")}` : "writers stopped by the operator")}</td></tr>
<tr><th>fence LSN</th><td><code>${e(c.fence.lsn)}</code> at ${e(c.fence.at)}</td></tr>
<tr><th>fence held</th><td>${mark(c.fence.held, "yes: no write reached the tables after it", "no: writes reached the tables after it")}</td></tr>
<tr><th>drained</th><td>${e(c.drainedAt)}: every change up to the fence applied on the target</td></tr>
<tr><th>quarantined</th><td>${mark(c.quarantined === 0, "nothing", `${c.quarantined} record(s)`)}</td></tr>
<tr><th>verifier</th><td>${mark(c.verifier.result === "equal", "equal", c.verifier.result)}: ${e(String(c.verifier.tables))} table(s), ${e(c.verifier.rowsCompared.toLocaleString("en-US"))} rows compared in ${e(String(c.verifier.passes))} pass(es), ${e((c.verifier.durationMs / 1000).toFixed(1))} s</td></tr>
</table>
<h3>The counter's ledger</h3>
<table>
<tr><th></th><th>emitted</th><th>in Kafka</th><th>applied</th><th>duplicate</th><th>quarantined</th></tr>
${stage("records", c.counter.records)}
${stage("rows", c.counter.rows)}
<tr><th>windows</th><td colspan="5">${byState(c.counter.windows)}</td></tr>
<tr><th>source transactions</th><td colspan="5">${byState(c.counter.transactions)}</td></tr>
</table>
<h3>Sequences</h3>
${c.sequences.length === 0 ? "<p>No sequence follows the replicated tables.</p>" : `<table>\n<tr><th>sequence</th><th>owned by</th><th>source next</th><th>target next before</th><th>target next after</th><th>action</th></tr>\n${sequences}\n</table>`}
<h3>Foreign keys on the target</h3>
${c.constraints.length === 0 ? "<p>The target's tables have no foreign keys.</p>" : `<table>\n<tr><th>table</th><th>constraint</th><th>references</th><th>rows without their referenced row</th><th>result</th></tr>\n${constraints}\n</table>`}`;
}

export function renderHtml(cert: Certificate): string {
  const e = escapeHtml;
  const differing = cert.tables.filter((t) => !t.equal).length;
  const problems = cert.cutover === undefined ? [] : cutoverProblems(cert.cutover);
  const why = [...(differing > 0 ? [`${differing} of ${cert.tables.length} table(s) differ`] : []), ...problems];
  const verdict = cert.proven
    ? `<p class="verdict ok">Proven: all ${cert.tables.length} table(s) hold the same rows on both sides${cert.cutover === undefined ? "" : ", at a fenced cut with every claim of the cutover holding"}.</p>`
    : `<p class="verdict bad">Not proven: ${e(why.join("; ") || "see below")}.</p>`;
  const tables = cert.tables
    .map(
      (t) =>
        `<tr><td><code>${e(t.table)}</code></td>${digestCells(t.source)}${digestCells(t.target)}` +
        `<td>${t.equal ? '<span class="ok">equal</span>' : '<span class="bad">different</span>'}</td></tr>`,
    )
    .join("\n");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>zeroloss certificate ${e(cert.issuedAt)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>Zero-loss certificate</h1>
<p class="note">Issued ${e(cert.issuedAt)} by zeroloss ${e(cert.zerolossVersion)} &middot; certificate version ${e(String(cert.version))}</p>
${verdict}
<h2>Databases</h2>
<table>
<tr><th></th><th>host:port</th><th>database</th><th>system identifier</th><th>server version</th></tr>
${identityRows("Source", cert.source)}
${identityRows("Target", cert.target)}
</table>
<h2>Tables</h2>
<table>
<tr><th>table</th><th>source rows</th><th>source hash</th><th>target rows</th><th>target hash</th><th>result</th></tr>
${tables}
</table>
<p class="note">Each hash is SHA-256 over the rows' checksums in key order, computed by each database over its own rows (zeroloss docs/operations.md, "Certificate").</p>
${cert.cutover === undefined ? "" : cutoverSection(cert.cutover)}
<h2>Signature</h2>
<table>
<tr><th>algorithm</th><td><code>${e(cert.signature.algorithm)}</code></td></tr>
<tr><th>public key fingerprint (SHA-256 of the SPKI DER)</th><td><code>${e(cert.signature.publicKeyFingerprint)}</code></td></tr>
<tr><th>configuration fingerprint</th><td><code>${e(cert.configFingerprint)}</code></td></tr>
</table>
<p>This page is a rendering for reading. <strong>The JSON file it was made from is the signed document.</strong>
Verify it with <code>zeroloss certificate verify &lt;certificate.json&gt; --public-key &lt;public.pem&gt;</code>
(add <code>--recheck --config &lt;zeroloss.yaml&gt;</code> to hash the target's tables again); the public key's fingerprint must be the one above.</p>
</body>
</html>
`;
}
