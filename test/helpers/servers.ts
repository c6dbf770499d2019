// Small real servers for tests: each on 127.0.0.1 port 0, counting what they see.
import net from 'node:net';
import { spawn } from 'node:child_process';

export interface TestServer {
  port: number;
  name: string;
  /** connections accepted so far */
  accepted: number;
  /** currently open */
  open: Set<net.Socket>;
  close(): Promise<void>;
}

/**
 * A TCP server that greets with its name on connect ("b1\n"), then echoes.
 * Half-close aware: it ends its side when the client ends.
 */
export async function startNamedEcho(
  name: string,
  port = 0,
  opts: { greetDelayMs?: number; greetAfterData?: boolean } = {},
): Promise<TestServer> {
  const open = new Set<net.Socket>();
  const s: TestServer = {
    port: 0,
    name,
    accepted: 0,
    open,
    close: () =>
      new Promise((resolve) => {
        for (const c of open) c.destroy();
        server.close(() => resolve());
      }),
  };
  const server = net.createServer({ allowHalfOpen: true }, (c) => {
    s.accepted++;
    open.add(c);
    c.on('close', () => open.delete(c));
    c.on('error', () => {});
    // a delayed greeting is a backend slow to its first byte; one after the client's first bytes, a
    // client-first protocol's answer (its first byte can never come before the client's)
    if (opts.greetAfterData) c.once('data', () => c.write(`${name}\n`));
    else if (opts.greetDelayMs) setTimeout(() => c.writable && c.write(`${name}\n`), opts.greetDelayMs);
    else c.write(`${name}\n`);
    c.on('data', (d) => c.write(d));
    c.on('end', () => c.end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, () => resolve());
  });
  s.port = (server.address() as net.AddressInfo).port;
  return s;
}

/**
 * A port on 127.0.0.1 that refuses connections for the rest of the test process: it is
 * the local port of a held loopback connection, so no listener (of this test or of any
 * other process, port 0 included) can bind it while a SYN to it is answered with a reset.
 * A port merely bound and closed could be given to another test's listener meanwhile.
 * The held sockets are unref'd: they never keep the process alive.
 */
export async function deadPort(): Promise<number> {
  const server = net.createServer((accepted) => accepted.unref());
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  server.unref();
  const hold = net.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
  hold.on('error', () => {});
  await new Promise<void>((r) => hold.once('connect', () => r()));
  hold.unref();
  return hold.localPort!;
}

/** ports this process handed out: never twice */
const given = new Set<number>();
/** where freePort draws from: below the ephemeral range (32768-60999 by default, ip_local_port_range) */
const FREE_FROM = 10_000;
const FREE_TO = 32_000;

/**
 * A port nothing listens on now (bound, then closed), for a listener the test
 * starts next. Drawn at random below the ephemeral range: a port the kernel
 * gives for port 0 is also what it gives other tests' outgoing connections as
 * their local port, and one taken that way between this check and the
 * daemon's bind makes the bind fail (EADDRINUSE).
 */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/** `n` distinct free ports (freePort), all checked at once. */
export async function freePorts(n: number): Promise<number[]> {
  const held: net.Server[] = [];
  const ports: number[] = [];
  try {
    for (let tries = 0; ports.length < n && tries < 1000; tries++) {
      const port = FREE_FROM + Math.floor(Math.random() * (FREE_TO - FREE_FROM));
      if (given.has(port)) continue;
      const s = net.createServer();
      const ok = await new Promise<boolean>((resolve) => {
        s.once('error', () => resolve(false));
        s.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve(true));
      });
      if (!ok) continue;
      held.push(s);
      given.add(port);
      ports.push(port);
    }
  } finally {
    await Promise.all(held.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
  if (ports.length < n) throw new Error(`no ${n} free ports between ${FREE_FROM} and ${FREE_TO}`);
  return ports;
}

/** Connect, read the first line (the backend's name), close. */
export function whoAnswers(port: number, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`no greeting from 127.0.0.1:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) {
        clearTimeout(timer);
        c.end();
        resolve(buf.slice(0, i));
      }
    });
    c.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    c.on('close', () => {
      clearTimeout(timer);
      if (!buf.includes('\n')) reject(new Error(`connection closed before a greeting (got ${JSON.stringify(buf)})`));
    });
  });
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * A port where a connect never completes: a listener whose accept queue is
 * full drops SYNs. python3 (installed by tools/test-deps.sh) holds such a
 * socket (backlog 0, never accepts) and fills its queue. Null when this kernel
 * completes handshakes on a full queue anyway (checked with one connect).
 */
export async function startHungListener(): Promise<{ port: number; close(): void } | null> {
  const py = spawn(
    'python3',
    [
      '-c',
      [
        'import socket,sys,time',
        's=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(0)',
        'port=s.getsockname()[1]',
        // non-blocking connects: the first fills the queue, the rest stay half-open
        'fill=[socket.socket() for _ in range(3)]',
        'for c in fill:',
        '  c.setblocking(False)',
        '  c.connect_ex(("127.0.0.1",port))',
        'print(port, flush=True)',
        'time.sleep(120)',
      ].join('\n'),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    py.on('error', reject);
    py.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  const hangs = await new Promise<boolean>((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      c.destroy();
      resolve(true);
    }, 300);
    c.on('connect', () => {
      clearTimeout(timer);
      c.destroy();
      resolve(false);
    });
    c.on('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (!hangs) {
    py.kill();
    return null;
  }
  return { port, close: () => py.kill() };
}
