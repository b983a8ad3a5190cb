// The messages between KafkaWriter (main thread) and kafka-worker.ts. Record values
// travel packed into one transferred ArrayBuffer per request, not one clone per record.

export interface WorkerConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly transactionalId: string;
  readonly transactionTimeoutMs: number;
  readonly logLevel: "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
}

export interface WireTopic {
  readonly topic: string;
  readonly keys: (string | null)[];
  readonly partitions: number[];
  readonly lengths: number[];
}

/** Values of every topic, in order, concatenated in `data`. */
export interface WireBatch {
  readonly topics: WireTopic[];
  readonly data: ArrayBuffer;
}

export type WorkerRequest =
  | { readonly id: number; readonly op: "connect" | "abort" | "disconnect" }
  | { readonly id: number; readonly op: "send" | "commit"; readonly batch: WireBatch };

export interface SentPartition {
  readonly topic: string;
  readonly partition: number;
  readonly baseOffset: string | null;
}

export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly result: SentPartition[] | null }
  | { readonly id: number; readonly ok: false; readonly error: { code: string; message: string; retriable: boolean } };
