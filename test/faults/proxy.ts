// A TCP proxy the fault tests put between a service and PostgreSQL, to cut its connections
// at a chosen moment (cut() destroys both ends of every open connection; new ones are
// accepted as before) and to see how far a stream has got (bytes sent to the client).
import { createServer, connect, type Server, type Socket } from "node:net";

export class TcpProxy {
  private readonly pairs = new Set<[Socket, Socket]>();
  /** Bytes sent from the server to the clients so far. */
  downstreamBytes = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => {
      const upstream = connect({ host: targetHost, port: targetPort });
      const pair: [Socket, Socket] = [client, upstream];
      proxy?.pairs.add(pair);
      const close = () => {
        proxy?.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on("error", close);
      upstream.on("error", close);
      client.on("close", close);
      upstream.on("close", close);
      upstream.on("data", (d: Buffer) => {
        if (proxy !== undefined) proxy.downstreamBytes += d.length;
      });
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: "127.0.0.1", port: 0 }, resolve);
    });
    const address = server.address();
    if (address === null || typeof address !== "object") throw new Error("the proxy has no address");
    proxy = new TcpProxy(server, address.port);
    return proxy;
  }

  /** Cuts every open connection (both ends); returns how many. */
  cut(): number {
    const n = this.pairs.size;
    for (const [a, b] of [...this.pairs]) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    return n;
  }

  /** `url` with its host and port replaced by the proxy's. */
  via(url: string): string {
    const u = new URL(url);
    u.hostname = "127.0.0.1";
    u.port = String(this.port);
    return u.toString();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }
}
