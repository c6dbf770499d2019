// Client load for the reload and stop tests: long-lived connections that keep
// echoing, and a bounded stream of short connections, both recording every failure.
import net from 'node:net';
import { whoAnswers } from '../helpers/servers.js';

/** A client connection through the balancer that stays open: the backend greets, then echoes. */
export class HeldConnection {
  backend = '';
  private buf = '';
  private closedFlag = false;
  readonly closed: Promise<void>;
  /** set when the connection was reset or failed (not a clean end) */
  error: Error | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
    });
    socket.on('error', (e) => {
      this.error = e;
    });
    this.closed = new Promise((r) =>
      socket.once('close', () => {
        this.closedFlag = true;
        r();
      }),
    );
  }

  static async open(port: number, timeoutMs = 5000): Promise<HeldConnection> {
    const socket = net.connect({ host: '127.0.0.1', port });
    const c = new HeldConnection(socket);
    await c.until(() => c.buf.includes('\n'), timeoutMs, 'a greeting');
    c.backend = c.buf.slice(0, c.buf.indexOf('\n'));
    c.buf = '';
    return c;
  }

  isClosed(): boolean {
    return this.closedFlag;
  }

  /** Sends one line and waits for exactly that line back. */
  async echo(text: string, timeoutMs = 3000): Promise<void> {
    if (this.closedFlag) throw new Error(`connection to ${this.backend} is closed (${this.error?.message ?? 'ended'})`);
    this.buf = '';
    this.socket.write(text + '\n');
    await this.until(() => this.buf.includes('\n'), timeoutMs, `the echo of ${text}`);
    const got = this.buf.slice(0, this.buf.indexOf('\n'));
    if (got !== text) throw new Error(`echo mismatch on ${this.backend}: sent ${text}, got ${got}`);
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (cond()) return done(null);
        if (this.closedFlag)
          return done(new Error(`closed while waiting for ${what} (${this.error?.message ?? 'ended'})`));
      };
      const done = (err: Error | null): void => {
        clearTimeout(timer);
        this.socket.off('data', check);
        this.socket.off('close', check);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => done(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      this.socket.on('data', check);
      this.socket.on('close', check);
      queueMicrotask(check);
    });
  }
}

export interface LoadResult {
  short: number;
  failures: string[];
  answers: Map<string, number>;
}

/**
 * `concurrency` loops of short connections (connect, read the greeting, close)
 * until stopped or `maxMs` passes, whichever comes first.
 */
export function shortConnections(port: number, concurrency: number, maxMs = 60_000): { stop(): Promise<LoadResult> } {
  let running = true;
  const r: LoadResult = { short: 0, failures: [], answers: new Map() };
  const end = Date.now() + maxMs;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running && Date.now() < end) {
      try {
        const who = await whoAnswers(port, 3000);
        r.answers.set(who, (r.answers.get(who) ?? 0) + 1);
        r.short++;
      } catch (err) {
        r.failures.push(String(err));
      }
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return r;
    },
  };
}
