// One logical replication stream from a slot, through pg-logical-replication, with every
// acknowledgement in the caller's hands:
//   - acknowledge.auto off and the timed acknowledgement off (timeoutSeconds 0): the
//     library would otherwise confirm positions the caller has not made durable;
//   - flow control on: the next message waits until the handler's promise settles;
//   - acknowledge(lsn) reports exactly `lsn` as flushed (the library adds 1 to what it is
//     given, which could skip a transaction whose commit record starts at that byte);
//   - a failure ends the stream for good. The library would go on with the next message
//     after a handler error, and re-subscribing resumes after the last *received* LSN;
//     the caller starts a new stream from its durable position instead.
import { ZerolossError } from "@zeroloss/errors";
import { LogicalReplicationService } from "pg-logical-replication";
import { AbstractPlugin } from "pg-logical-replication/dist/output-plugins/abstract.plugin.js";
import type pg from "pg";
import { quoteIdent, quoteReplicationLiteral } from "@zeroloss/checksum";
import { clientConfig } from "./connect.js";
import { pgError } from "./errors.js";
import { formatLsn, parseLsn, type Lsn } from "./lsn.js";
import { parsePgoutput, type PgoutputMessage } from "./pgoutput.js";

class Pgoutput extends AbstractPlugin<{ publication: string; onParsed: () => void }> {
  get name(): string {
    return "pgoutput";
  }
  parse(buffer: Buffer): PgoutputMessage {
    // Called on receipt, before the library queues the message for the handler.
    this.options.onParsed();
    return parsePgoutput(buffer);
  }
  start(client: pg.Client, slotName: string, lastLsn: string): Promise<unknown> {
    const publicationNames = quoteIdent(this.options.publication);
    const sql =
      `START_REPLICATION SLOT ${quoteIdent(slotName)} LOGICAL ${formatLsn(parseLsn(lastLsn))} ` +
      `(proto_version '1', publication_names ${quoteReplicationLiteral(publicationNames)}, messages 'true', binary 'false')`;
    return client.query(sql);
  }
}

export interface StreamHandlers {
  /**
   * One message; the stream waits for the returned promise. `lsn` is the XLogData start as
   * PostgreSQL prints it (X/Y): passed as text, because most messages only need it for an
   * envelope, and parsing and re-formatting it for every row was measurable.
   */
  readonly onMessage: (lsn: string, message: PgoutputMessage) => void | Promise<void>;
  /** A primary keepalive: the server's WAL end, and whether it wants a status reply now. */
  readonly onKeepalive: (walEnd: Lsn, replyRequested: boolean) => void;
  /** Called once, when the stream has ended for any reason other than stop(). */
  readonly onEnd: (err: ZerolossError) => void;
}

export interface StreamOptions {
  readonly url: string;
  readonly slot: string;
  readonly publication: string;
  readonly applicationName: string;
}

export class ReplicationStream {
  private readonly service: LogicalReplicationService;
  private ended = false;
  private stopping = false;
  private received = 0;
  private handled = 0;

  constructor(private readonly options: StreamOptions, private readonly handlers: StreamHandlers) {
    this.service = new LogicalReplicationService(clientConfig(options.url, { applicationName: options.applicationName }), {
      acknowledge: { auto: false, timeoutSeconds: 0 },
      flowControl: { enabled: true },
    });
    this.service.on("data", async (lsn: string, message: PgoutputMessage) => {
      try {
        if (!this.ended) await handlers.onMessage(lsn, message);
      } catch (err) {
        this.end(err, "handling a replication message");
      } finally {
        this.handled++;
      }
    });
    this.service.on("heartbeat", (lsn: string, _timestamp: number, shouldRespond: boolean) => {
      if (!this.ended) handlers.onKeepalive(parseLsn(lsn), shouldRespond);
    });
    this.service.on("error", (err: Error) => this.end(err, "streaming from the replication slot"));
  }

  /** Starts streaming after `from`; resolves once PostgreSQL has started sending. */
  start(from: Lsn): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let started = false;
      this.service.once("start", () => {
        started = true;
        resolve();
      });
      const plugin = new Pgoutput({ publication: this.options.publication, onParsed: () => void this.received++ });
      this.service.subscribe(plugin, this.options.slot, formatLsn(from)).then(
        () => {
          if (!started) reject(new ZerolossError("PG_REPLICATION_ENDED", "the replication stream ended before it started"));
          else this.end(new Error("the server ended the replication stream"), "streaming");
        },
        (err: unknown) => {
          const e = this.end(err, `starting replication from slot ${this.options.slot} at ${formatLsn(from)}`);
          if (!started) reject(e);
        },
      );
    });
  }

  /**
   * Messages received but not yet through the handler. A keepalive that arrives while
   * this is 0 follows only handled messages, so its WAL end may be confirmed.
   */
  get unhandled(): number {
    return this.received - this.handled;
  }

  /** Reports `flushed` as written, flushed and applied: the slot may drop WAL before it. */
  async acknowledge(flushed: Lsn): Promise<void> {
    if (this.ended || flushed <= 0n) return;
    await this.service.acknowledge(formatLsn(flushed - 1n));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.ended = true;
    await this.close();
  }

  /**
   * Ends the library's connection. With flow control the library pauses the socket while a
   * message is handled and does not resume it once stopped; a paused socket never reads
   * the server's end, and node-postgres's end() would wait for it forever. So the socket
   * is resumed first, and destroyed if the connection has not closed within 5 s.
   */
  private async close(): Promise<void> {
    const internals = this.service as unknown as { _connection?: { stream?: { resume?: () => void; destroy?: () => void } } | null };
    const socket = internals._connection?.stream;
    socket?.resume?.();
    let timer: NodeJS.Timeout | undefined;
    const closed = this.service.destroy().then(() => true);
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), 5_000);
    });
    try {
      if (!(await Promise.race([closed, late]))) socket?.destroy?.();
    } finally {
      clearTimeout(timer);
    }
  }

  private end(err: unknown, what: string): ZerolossError {
    const e = pgError(err, what, this.options.url);
    if (this.ended) return e;
    this.ended = true;
    void this.close().finally(() => {
      if (!this.stopping) this.handlers.onEnd(e);
    });
    return e;
  }
}
