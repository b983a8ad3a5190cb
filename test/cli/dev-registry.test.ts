// `zeroloss dev up --registry`: a real Confluent-compatible schema registry (Apicurio
// Registry, from Maven Central) joins the stack, its URL joins the `--json` contract as
// "registry", the chosen client (@kafkajs/confluent-schema-registry) registers schemas under
// BACKWARD compatibility and the registry refuses an incompatible one, and `dev down`
// leaves nothing of it behind.
import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { COMPATIBILITY, SchemaRegistry, SchemaType } from "@kafkajs/confluent-schema-registry";
import { isAlive, pollUntil, sweepOrphans } from "@zeroloss/devstack";
import { testLogger } from "../setup/logger.js";
import { privateStackCli } from "../setup/private-stack.js";
import { listenersOn, recordedPids } from "../setup/listeners.js";

const { runDir, zeroloss } = privateStackCli("registry", 240_000);

afterAll(async () => {
  zeroloss(["dev", "down"]);
  await sweepOrphans(runDir, testLogger("registry"));
  rmSync(runDir, { recursive: true, force: true });
});

const schema = (fields: object[]) => JSON.stringify({ type: "record", name: "Row", namespace: "zeroloss.test", fields });

describe("zeroloss dev up --registry", () => {
  let endpoints: { source: string; target: string; kafka: string[]; registry: string };
  let pids: number[] = [];

  it("prints the registry in the --json contract, and the registry answers", { timeout: 300_000 }, async () => {
    const up = zeroloss(["dev", "up", "--detach", "--json", "--registry"]);
    expect(up.code, up.stderr).toBe(0);
    endpoints = JSON.parse(up.stdout.trim()) as typeof endpoints;
    expect(Object.keys(endpoints)).toEqual(["source", "target", "kafka", "sourceVersion", "targetVersion", "registry"]);
    expect(endpoints.registry).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/apis\/ccompat\/v7$/);
    pids = recordedPids(runDir);
    expect(pids).toHaveLength(4);
    const subjects = await fetch(`${endpoints.registry}/subjects`);
    expect(subjects.status).toBe(200);
    expect(await subjects.json()).toEqual([]); // in-memory: every start begins empty

    const status = zeroloss(["dev", "status", "--json"]);
    expect(status.code, status.stdout).toBe(0);
    const s = JSON.parse(status.stdout) as { registry: string; services: { name: string; alive: boolean; listening: boolean }[] };
    expect(s.registry).toBe(endpoints.registry);
    expect(s.services.find((x) => x.name === "registry")).toMatchObject({ alive: true, listening: true });
  });

  it("registers under BACKWARD compatibility and refuses an incompatible schema", async () => {
    const registry = new SchemaRegistry({ host: endpoints.registry });
    const subject = "zeroloss.public.accounts-value";
    const v1 = schema([{ name: "id", type: "long" }]);
    const v2 = schema([{ name: "id", type: "long" }, { name: "note", type: ["null", "string"], default: null }]);
    const v3 = schema([{ name: "id", type: "long" }, { name: "note", type: ["null", "string"], default: null }, { name: "must", type: "string" }]);
    const { id: id1 } = await registry.register({ type: SchemaType.AVRO, schema: v1 }, { subject, compatibility: COMPATIBILITY.BACKWARD });
    const { id: id2 } = await registry.register({ type: SchemaType.AVRO, schema: v2 }, { subject, compatibility: COMPATIBILITY.BACKWARD });
    expect(id2).not.toBe(id1);
    await expect(registry.register({ type: SchemaType.AVRO, schema: v3 }, { subject, compatibility: COMPATIBILITY.BACKWARD })).rejects.toMatchObject({ status: 409 });
    expect(await (await fetch(`${endpoints.registry}/subjects/${subject}/versions`)).json()).toEqual([1, 2]);

    // A record encoded with v2 decodes through a client that has never seen the schema.
    const encoded = await registry.encode(id2, { id: 7, note: "é😀" });
    expect(encoded.readUInt8(0)).toBe(0);
    expect(encoded.readUInt32BE(1)).toBe(id2);
    expect(await new SchemaRegistry({ host: endpoints.registry }).decode(encoded)).toEqual({ id: 7, note: "é😀" });
  });

  it("dev down stops the registry with the rest", async () => {
    const down = zeroloss(["dev", "down"]);
    expect(down.code, down.stderr).toBe(0);
    await pollUntil(async () => (pids.every((p) => !isAlive(p)) ? true : undefined), { timeoutMs: 30_000, what: `pids ${pids.join(",")} to exit` });
    const port = Number(/:(\d+)\//.exec(endpoints.registry)?.[1]);
    expect(listenersOn(port).filter((l) => pids.includes(l.pid) || l.cmdline.includes(runDir))).toEqual([]);
  });
});
