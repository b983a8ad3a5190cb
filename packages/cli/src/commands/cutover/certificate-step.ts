// Step 6 of the cutover: the certificate. Every table hashed on each side in one snapshot
// (@zeroloss/certificate), then the fence checked once more (a write that slipped past it
// makes the cut inconsistent: the tables' write counters and the counter's emitted records
// must not have moved), then the cutover's record added, signed and
// written with its HTML page. `proven` is the tables' equality and every claim of the cutover.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  configFingerprint,
  cutoverProblems,
  gatherCertificate,
  renderHtml,
  signCertificate,
  type Certificate,
  type ConstraintEntry,
  type SequenceEntry,
} from "@zeroloss/certificate";
import type { Config } from "@zeroloss/config";
import { ZerolossError } from "@zeroloss/errors";
import type { Client, TableName } from "@zeroloss/pg";
import { fetchSummary, type CounterEndpoint } from "../counter-client.js";
import type { ProgressLines } from "../progress-lines.js";
import { zerolossVersion } from "../zeroloss-version.js";
import { writesSinceFence } from "./fence-step.js";
import type { CutoverState } from "./state.js";

export interface CertificateContext {
  readonly config: Config;
  readonly source: Client;
  readonly state: CutoverState;
  readonly tables: readonly TableName[];
  readonly sequences: readonly SequenceEntry[];
  readonly constraints: readonly ConstraintEntry[];
  readonly privateKeyPem: string;
  readonly counter: CounterEndpoint;
  readonly dir: string;
  readonly progress: ProgressLines;
}

export interface IssuedCertificate {
  readonly certificate: Certificate;
  readonly json: string;
  readonly html: string;
  readonly problems: string[];
}

export async function certificateStep(c: CertificateContext): Promise<IssuedCertificate> {
  const { state } = c;
  if (state.fence === null || state.fencePoint === undefined || state.drain === undefined || state.verifier === undefined) {
    throw new ZerolossError("CUTOVER_STATE_INVALID", "the certificate needs a fence, a drain and a verification in the cutover's state; this state lacks one");
  }
  c.progress.line("certificate: hashing every table on the source, then on the target, each in one snapshot");
  const unsigned = await gatherCertificate({
    sourceUrl: c.config.source.url,
    targetUrl: c.config.target.url,
    include: c.config.source.tables,
    exclude: c.config.source.exclude,
    zerolossVersion: zerolossVersion(),
    configFingerprint: configFingerprint(c.config),
    onTable: (side, table, digest) => c.progress.line(`  ${side.padEnd(6)} ${table}: ${digest === null ? "missing" : `${digest.rows.toLocaleString("en-US")} rows`}`),
  });
  // Two witnesses that nothing was written after the fence: the tables' write counters on the
  // source, and the records the producer emitted (any change after the drain reaches it).
  const moved = await writesSinceFence(c.source, state, c.tables);
  const emittedSince = (await fetchSummary(c.counter)).totals.emitted - state.drain.counter.records.emitted;
  if (moved.length > 0) c.progress.line(`  the fence did NOT hold: ${moved.join(", ")} written since ${state.fencePoint.lsn}`);
  if (emittedSince > 0) c.progress.line(`  the fence did NOT hold: the producer emitted ${emittedSince} record(s) after the drain`);
  const cutover = {
    fence: { mode: state.fence.mode, roles: [...state.fence.roles], lsn: state.fencePoint.lsn, at: state.fencePoint.at, held: moved.length === 0 && emittedSince <= 0 },
    drainedAt: state.drain.drainedAt,
    counter: state.drain.counter,
    quarantined: state.drain.quarantined,
    verifier: state.verifier,
    sequences: [...c.sequences],
    constraints: [...c.constraints],
  };
  const problems = [...unsigned.tables.filter((t) => !t.equal).map((t) => `${t.table}: the table hashes differ at the cut`), ...cutoverProblems(cutover)];
  const certificate = signCertificate({ ...unsigned, cutover, proven: unsigned.proven && cutoverProblems(cutover).length === 0 }, c.privateKeyPem);
  const json = join(c.dir, "certificate.json");
  const html = join(c.dir, "certificate.html");
  await writeFile(json, `${JSON.stringify(certificate, null, 2)}\n`);
  await writeFile(html, renderHtml(certificate));
  return { certificate, json, html, problems };
}
