// The certificate as a page a person reads: made from the JSON alone, self-contained (inline
// CSS, no script, nothing fetched), every string from the document escaped. The page is a view,
// not the proof: it says so, and how to verify the JSON it was made from.
import type { Certificate, DatabaseIdentity, TableDigest } from "./types.js";

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

export function renderHtml(cert: Certificate): string {
  const e = escapeHtml;
  const differing = cert.tables.filter((t) => !t.equal).length;
  const verdict = cert.proven
    ? `<p class="verdict ok">Proven: all ${cert.tables.length} table(s) hold the same rows on both sides.</p>`
    : `<p class="verdict bad">Not proven: ${differing} of ${cert.tables.length} table(s) differ.</p>`;
  const tables = cert.tables
    .map(
      (t) =>
        `<tr><td><code>${e(t.table)}</code></td>${digestCells(t.source)}${digestCells(t.target)}` +
        `<td>${t.equal ? '<span class="ok">equal</span>' : '<span class="bad">different</span>'}</td></tr>`,
    )
    .join("\n");
  const optional: string[] = [];
  if (cert.fenceLsn !== undefined) optional.push(`<tr><th>Fence LSN</th><td><code>${e(cert.fenceLsn)}</code></td></tr>`);
  if (cert.fencedAt !== undefined) optional.push(`<tr><th>Fenced at</th><td>${e(cert.fencedAt)}</td></tr>`);
  if (cert.counterTotals !== undefined) {
    const c = cert.counterTotals;
    optional.push(`<tr><th>Counter totals</th><td>produced ${e(c.produced)}, consumed ${e(c.consumed)}, applied ${e(c.applied)}</td></tr>`);
  }
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
${optional.length === 0 ? "" : `<h2>Cutover</h2>\n<table>\n${optional.join("\n")}\n</table>`}
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
