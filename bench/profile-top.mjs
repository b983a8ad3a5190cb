// Prints where a V8 CPU profile (node --cpu-prof, e.g. PROFILE_DIR=... npm run bench:e2e)
// spent its time: self time per function and per package, largest first.
//
// Usage: node bench/profile-top.mjs <file.cpuprofile> [rows=25]
import { readFileSync } from "node:fs";

const [file, rowsArg] = process.argv.slice(2);
if (file === undefined) {
  console.error("usage: node bench/profile-top.mjs <file.cpuprofile> [rows]");
  process.exit(2);
}
const rows = Number(rowsArg ?? 25);
const profile = JSON.parse(readFileSync(file, "utf8"));

// Self time per node: the samples attributed to it, weighted by the time between samples.
const selfUs = new Map();
const deltas = profile.timeDeltas ?? [];
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i + 1] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

/** node_modules/<pkg>, packages/<name>, services/<name>, node: internals, or V8's own entries. */
function where(url) {
  if (url === "") return "(v8/native)";
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url) ?? /\/(packages\/[^/]+|services\/[^/]+)\//.exec(url);
  if (m !== null) return m[1];
  if (url.startsWith("node:")) return "node internals";
  return url;
}

const byFunction = new Map();
const byPackage = new Map();
for (const node of profile.nodes) {
  const us = selfUs.get(node.id) ?? 0;
  if (us === 0) continue;
  const cf = node.callFrame;
  const pkg = where(cf.url);
  const fn = `${cf.functionName || "(anonymous)"} ${pkg}${cf.url === "" ? "" : `:${cf.lineNumber + 1}`}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
}

const show = (title, map) => {
  console.log(`${title} (of ${(total / 1e6).toFixed(2)} s sampled)`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
    console.log(`${((100 * us) / total).toFixed(1).padStart(6)}%  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${name}`);
  }
};
show("self time by package", byPackage);
console.log();
show("self time by function", byFunction);
