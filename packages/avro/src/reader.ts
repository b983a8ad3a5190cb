// Reads data record values of either encoding: a JSON envelope starts with `{`, an Avro one
// with the registry's magic byte 0. The consumer and the counter read whatever the topic
// holds, so a pipeline switched from one encoding to the other drains the old records too.
import { EnvelopeDecoder, WireError, type Envelope, type EnvelopeReading } from "@zeroloss/wire";
import { schemaIdOf, type AvroRegistry } from "./codec.js";

export class EnvelopeReader implements EnvelopeReading {
  private readonly json = new EnvelopeDecoder();

  /** `registry` null: kafka.registry.url is not set, and an Avro record is an error that says so. */
  constructor(private readonly registry: AvroRegistry | null) {}

  /** Loads the writer schemas of a batch's Avro values; call before decode(). */
  async load(values: readonly (Buffer | null)[]): Promise<void> {
    if (this.registry !== null) {
      await this.registry.load(values);
      return;
    }
    for (const v of values) {
      const id = v === null ? null : schemaIdOf(v);
      if (id !== null) {
        throw new WireError(
          "WIRE_AVRO_WITHOUT_REGISTRY",
          `a record is Avro (schema id ${id}) and no schema registry is configured: set kafka.registry.url (ZEROLOSS_KAFKA_REGISTRY_URL)`,
        );
      }
    }
  }

  decode(value: Buffer | string | null): Envelope {
    if (this.registry !== null && typeof value !== "string" && value !== null && schemaIdOf(value) !== null) return this.registry.decode(value);
    return this.json.decode(value);
  }

  columnsJson(env: Envelope): string {
    return this.registry?.columnsJsonOf(env) ?? this.json.columnsJson(env);
  }
}
