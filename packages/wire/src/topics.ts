// Topic names (DESIGN.md, "Kafka layout"). One place, so the producer, consumer and
// counter can never disagree.
export interface TopicNames {
  readonly manifests: string;
  readonly tallies: string;
  readonly dlq: string;
  readonly checkpoints: string;
  data(schema: string, table: string): string;
  /** Matches every data topic of the prefix (and no control topic). */
  readonly dataPattern: RegExp;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function topicNames(prefix: string): TopicNames {
  return {
    manifests: `${prefix}.__manifests`,
    tallies: `${prefix}.__tallies`,
    dlq: `${prefix}.__dlq`,
    checkpoints: `${prefix}.__checkpoints`,
    data: (schema, table) => `${prefix}.${topicPart(schema)}.${topicPart(table)}`,
    dataPattern: new RegExp(`^${escapeRegex(prefix)}\\.(?!__)[^.]+\\.[^.]+$`),
  };
}

/** Kafka topic names allow letters, digits, '_' and '-' (and '.', which zeroloss uses as separator). */
function topicPart(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, "_");
}
