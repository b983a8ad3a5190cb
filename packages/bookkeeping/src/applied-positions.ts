// Reading the consumer's applied positions from outside the consumer: the verifier watches
// them to tell when the target has caught up. The consumer writes them (target-transaction.ts there).
import { query, quoteIdent, type Client } from "@zeroloss/pg";
import { APPLIED_POSITIONS, type AppliedPositionRow } from "./tables.js";

/**
 * The applied positions of the topics whose names start with `topicPrefix`, ordered by topic
 * and partition; null when the target has no bookkeeping (no consumer ever ran against it).
 */
export async function readAppliedPositions(client: Client, topicPrefix: string): Promise<AppliedPositionRow[] | null> {
  const [found] = await query<{ t: string | null }>(client, "looking for the consumer's bookkeeping", "SELECT to_regclass($1)::text AS t", [APPLIED_POSITIONS.sql]);
  if (found?.t === null || found?.t === undefined) return null;
  return query<AppliedPositionRow>(
    client,
    `reading the consumer's applied positions (${APPLIED_POSITIONS.qualified})`,
    `SELECT ${APPLIED_POSITIONS.columns.map(quoteIdent).join(", ")} FROM ${APPLIED_POSITIONS.sql} WHERE starts_with("topic", $1) ORDER BY "topic", "partition"`,
    [topicPrefix],
  );
}
