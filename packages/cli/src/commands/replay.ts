// `zeroloss replay`: resets the consumer group's offsets on the data topics, the way
// `kafka-consumer-groups.sh --reset-offsets` does, so the consumer reads them again. Kafka
// only lets an empty group's offsets be changed, and a running consumer would overwrite
// them anyway: with members present this refuses and names them. Replayed records are
// validated and applied again; the LSN guard makes the target converge to the same content
// (and repairs rows altered by hand), and their written tallies are marked as replays.
import { InvalidArgumentError } from "commander";
import { loadConfig } from "@zeroloss/config";
import { ZerolossError } from "@zeroloss/errors";
import { createKafka, kafkaError } from "@zeroloss/kafka";
import type { Logger } from "@zeroloss/observability";
import { topicNames } from "@zeroloss/wire";
import type { Admin } from "kafkajs";

export interface OffsetTarget {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** TOPIC:PARTITION:OFFSET (topic names may contain ':'? they may not in Kafka, but split from the right anyway). */
export function parseOffsetTarget(value: string): OffsetTarget {
  const m = /^(.+):(\d+):(\d+)$/.exec(value);
  if (m === null) throw new InvalidArgumentError("expected TOPIC:PARTITION:OFFSET, e.g. zeroloss.public.accounts:0:1500");
  return { topic: m[1] as string, partition: Number(m[2]), offset: m[3] as string };
}

export interface ReplayOptions {
  readonly config?: string;
  readonly group?: string;
  readonly toEarliest: boolean;
  readonly toDatetime?: string;
  readonly toOffset?: OffsetTarget;
  readonly json: boolean;
  readonly log: Logger;
}

interface Reset {
  topic: string;
  partition: number;
  from: string;
  to: string;
}

export async function replayCommand(o: ReplayOptions): Promise<number> {
  const modes = [o.toEarliest, o.toDatetime !== undefined, o.toOffset !== undefined].filter(Boolean).length;
  if (modes !== 1) {
    process.stderr.write("zeroloss replay: give exactly one of --to-earliest, --to-datetime ISO, --to-offset TOPIC:PARTITION:OFFSET\n");
    return 2;
  }
  let at: number | undefined;
  if (o.toDatetime !== undefined) {
    at = Date.parse(o.toDatetime);
    if (!Number.isFinite(at)) {
      process.stderr.write(`zeroloss replay: --to-datetime ${o.toDatetime} is not an ISO-8601 time (e.g. 2026-11-21T09:30:00Z)\n`);
      return 2;
    }
  }
  const config = await loadConfig({ ...(o.config === undefined ? {} : { file: o.config }) });
  const group = o.group ?? config.consumer.group;
  const topics = topicNames(config.kafka.topicPrefix);
  const kafka = createKafka({ connection: config.kafka, clientId: `${config.kafka.clientId}-replay`, log: o.log.child({}, { level: "warn" }) }); // kafkajs narrates its group joins at info
  const admin = kafka.admin();
  try {
    await admin.connect();
    await refuseWhileActive(admin, group);
    const all = (await admin.listTopics()).filter((t) => topics.dataPattern.test(t)).sort();
    const chosen = o.toOffset === undefined ? all : all.filter((t) => t === o.toOffset?.topic);
    if (o.toOffset !== undefined && chosen.length === 0) {
      throw new ZerolossError("REPLAY_UNKNOWN_TOPIC", `topic ${o.toOffset.topic} is not a data topic of prefix ${config.kafka.topicPrefix} (data topics: ${all.join(", ") || "none"})`);
    }
    const committed = new Map<string, string>();
    for (const t of await admin.fetchOffsets({ groupId: group, topics: chosen })) {
      for (const p of t.partitions) committed.set(`${t.topic}:${p.partition}`, p.offset);
    }
    const resets: Reset[] = [];
    for (const topic of chosen) {
      const watermarks = await admin.fetchTopicOffsets(topic);
      let targets: Array<{ partition: number; offset: string }>;
      if (o.toOffset !== undefined) {
        const w = watermarks.find((p) => p.partition === o.toOffset?.partition);
        if (w === undefined) throw new ZerolossError("REPLAY_UNKNOWN_PARTITION", `topic ${topic} has no partition ${o.toOffset.partition} (it has ${watermarks.length})`);
        if (BigInt(o.toOffset.offset) < BigInt(w.low) || BigInt(o.toOffset.offset) > BigInt(w.high)) {
          throw new ZerolossError("REPLAY_OFFSET_OUT_OF_RANGE", `${topic}:${o.toOffset.partition} holds offsets ${w.low} to ${w.high}; ${o.toOffset.offset} is outside`);
        }
        targets = [{ partition: w.partition, offset: o.toOffset.offset }];
      } else if (at !== undefined) {
        const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, at);
        targets = byTime.map((p) => {
          const high = watermarks.find((w) => w.partition === p.partition)?.high ?? p.offset;
          return { partition: p.partition, offset: p.offset === "-1" ? high : p.offset };
        });
      } else {
        targets = watermarks.map((w) => ({ partition: w.partition, offset: w.low }));
      }
      await admin.setOffsets({ groupId: group, topic, partitions: targets });
      for (const t of targets) resets.push({ topic, partition: t.partition, from: committed.get(`${topic}:${t.partition}`) ?? "-1", to: t.offset });
    }
    if (o.json) {
      process.stdout.write(`${JSON.stringify({ group, resets })}\n`);
    } else {
      process.stdout.write(`consumer group ${group}: ${resets.length} partition(s) reset\n`);
      for (const r of resets) process.stdout.write(`  ${r.topic} [${r.partition}]  ${r.from === "-1" ? "(none)" : r.from} -> ${r.to}\n`);
      process.stdout.write("start the consumers again to replay; the target converges to the same content\n");
    }
    return 0;
  } catch (err) {
    throw kafkaError(err, `resetting the offsets of consumer group ${group}`);
  } finally {
    await admin.disconnect();
  }
}

async function refuseWhileActive(admin: Admin, group: string): Promise<void> {
  const described = await admin.describeGroups([group]);
  const g = described.groups[0];
  const members = g?.members ?? [];
  if (members.length > 0) {
    const who = members.map((m) => `${m.clientId} on ${m.clientHost}`).join(", ");
    throw new ZerolossError(
      "REPLAY_GROUP_ACTIVE",
      `consumer group ${group} has ${members.length} active member(s) (${who}), state ${g?.state ?? "unknown"}: stop every consumer of the group first, then replay`,
      { details: { group, members: members.length } },
    );
  }
}
