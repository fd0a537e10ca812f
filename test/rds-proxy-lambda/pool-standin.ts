import * as fs from 'fs';
import * as net from 'net';
import * as tls from 'tls';

/**
 * A stand-in for RDS Proxy's connection pool on 127.0.0.1, in front of the test PostgreSQL: it terminates
 * the client's TLS (with the test PKI's `localhost` certificate, as the proxy terminates TLS with its own),
 * lends one of `maxConnections` upstream database connections per client session, and when all are lent
 * makes the client wait up to `borrowTimeoutMs`; if none frees up it answers with a PostgreSQL
 * ErrorResponse and closes — the behaviour of ConnectionBorrowTimeout
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-connections.html#rds-proxy-connection-pooling-tuning.connectionborrowtimeout).
 * The message text follows what RDS Proxy users report ("Timed-out waiting to acquire database connection",
 * e.g. sequelize/sequelize#14433); the SQLSTATE 53300 (too_many_connections) is this stand-in's choice.
 *
 * It lends a connection for the whole client session (RDS Proxy multiplexes per transaction when it
 * can; a pinned session behaves like this), which is the worst case for a saturated pool.
 */
export class PoolStandIn {
  port = 0;
  /** Clients that got the borrow-timeout error. */
  refused = 0;
  private lent = 0;
  private readonly waiters: Array<() => void> = [];
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly upstreamPort: number,
    private readonly maxConnections: number,
    private readonly borrowTimeoutMs: number,
    private readonly cert: { certFile: string; keyFile: string },
  ) {
    this.server = net.createServer((s) => this.accept(s));
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  get inUse(): number {
    return this.lent;
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => undefined);
  }

  private accept(raw: net.Socket): void {
    this.track(raw);
    raw.once('data', (first) => {
      // SSLRequest: int32 length 8, int32 80877103. Anything else is refused (the proxy requires TLS).
      if (first.length < 8 || first.readInt32BE(4) !== 80877103) {
        raw.destroy();
        return;
      }
      raw.write('S');
      const secure = new tls.TLSSocket(raw, {
        isServer: true,
        cert: fs.readFileSync(this.cert.certFile),
        key: fs.readFileSync(this.cert.keyFile),
      });
      this.track(secure);
      // Hold what the client sends (its StartupMessage) until a database connection is lent.
      const pending: Buffer[] = [];
      const hold = (b: Buffer) => pending.push(b);
      secure.on('data', hold);
      this.borrow(
        () => {
          const up = net.connect(this.upstreamPort, '127.0.0.1');
          this.track(up);
          let released = false;
          const release = () => {
            if (released) return;
            released = true;
            this.giveBack();
          };
          secure.off('data', hold);
          for (const b of pending) up.write(b);
          secure.on('data', (b) => up.write(b));
          up.on('data', (b) => secure.write(b));
          secure.on('close', () => {
            up.destroy();
            release();
          });
          up.on('close', () => {
            secure.destroy();
            release();
          });
        },
        () => {
          this.refused++;
          secure.end(errorResponse('FATAL', '53300', 'Timed-out waiting to acquire database connection'));
        },
        secure,
      );
    });
  }

  private borrow(onLent: () => void, onTimeout: () => void, client: net.Socket): void {
    if (this.lent < this.maxConnections) {
      this.lent++;
      onLent();
      return;
    }
    let done = false;
    const waiter = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.lent++;
      onLent();
    };
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
      onTimeout();
    }, this.borrowTimeoutMs);
    client.on('close', () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
    });
    this.waiters.push(waiter);
  }

  private giveBack(): void {
    this.lent--;
    const next = this.waiters.shift();
    if (next) next();
  }
}

/** A PostgreSQL protocol v3 ErrorResponse ('E'): severity, SQLSTATE and message fields. */
function errorResponse(severity: string, code: string, message: string): Buffer {
  const fields = Buffer.concat([
    Buffer.from(`S${severity}\0V${severity}\0C${code}\0M${message}\0`, 'utf8'),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}
