// The relay suite runs every test on each relay netmon ships: the native relay
// (daemon/data/native/) and Node sockets ([data] relay = "js"). NETMON_TEST_RELAY
// narrows it to one (`make asan` runs the native one under AddressSanitizer).
// Each daemon checks that its workers run the relay asked for: a native relay
// that did not load fails the native tests, it never falls back in silence.
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { startTestDaemon, simpleConfig, type TestDaemon } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/servers.js';

export type RelayPath = 'native' | 'js';

export const RELAY_PATHS: readonly RelayPath[] = ((): RelayPath[] => {
  const want = process.env['NETMON_TEST_RELAY'];
  if (want === undefined || want === '') return ['native', 'js'];
  return want.split(',').map((p) => {
    if (p !== 'native' && p !== 'js') throw new Error(`NETMON_TEST_RELAY: "${p}" is not native or js`);
    return p;
  });
})();

export interface RelayDaemon {
  d: TestDaemon;
  /** the listener's port */
  port: number;
  stop(): Promise<void>;
}

/** A daemon relaying with `path`: one listener in front of `backends`; `pool` adds pool keys (timeouts...). */
export async function startRelay(
  path: RelayPath,
  backends: { name: string; port: number }[],
  opts: { pool?: string; idle?: string; workers?: number } = {},
): Promise<RelayDaemon> {
  const port = await freePort();
  let toml = simpleConfig({
    listenPort: port,
    backends,
    workers: opts.workers ?? 2,
    extraTop: `[data]\nrelay = "${path}"`,
    extraPool: opts.pool ?? '',
  });
  if (opts.idle !== undefined) toml = toml.replace('idle = "30s"', `idle = "${opts.idle}"`);
  const d = await startTestDaemon(toml);
  await waitFor(
    () => d.daemon.snapshot().workers.every((w) => w.nativeRelay === (path === 'native')),
    5000,
    `workers relaying with ${path}`,
  );
  return { d, port, stop: () => d.stop() };
}

/** `size` bytes that differ from run to run of `seed` and are the same for the same seed. */
export function pattern(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761 + 1) >>> 0;
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    b.writeUInt32LE(x, i);
  }
  for (; i < size; i++) b[i] = i & 255;
  return b;
}

export function sha256(...parts: Buffer[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** Listener and backend byte counters, summed over the daemon's snapshot. */
export function counters(d: TestDaemon): {
  listenerIn: number;
  listenerOut: number;
  backendIn: number;
  backendOut: number;
} {
  const s = d.daemon.snapshot();
  const sum = (xs: { bytesIn: number; bytesOut: number }[], k: 'bytesIn' | 'bytesOut'): number =>
    xs.reduce((a, x) => a + x[k], 0);
  return {
    listenerIn: sum(s.listeners, 'bytesIn'),
    listenerOut: sum(s.listeners, 'bytesOut'),
    backendIn: sum(s.backends, 'bytesIn'),
    backendOut: sum(s.backends, 'bytesOut'),
  };
}

/** Every connection closed and given back: nothing active on listeners, backends or workers. */
export async function allClosed(d: TestDaemon, what = 'every connection closed'): Promise<void> {
  await waitFor(
    () => {
      const s = d.daemon.snapshot();
      return (
        s.listeners.every((l) => l.active === 0) &&
        s.backends.every((b) => b.active === 0) &&
        s.workers.every((w) => w.active === 0)
      );
    },
    10_000,
    what,
  );
}

/** How a socket's peer ended it: a FIN ('end'), a reset ('error' ECONNRESET), or a close with neither. */
export function ending(s: net.Socket): Promise<'fin' | 'reset' | 'closed'> {
  return new Promise((resolve) => {
    s.on('end', () => resolve('fin'));
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') resolve('reset');
    });
    s.on('close', () => resolve('closed'));
  });
}

/** A TCP server on 127.0.0.1 that hands each connection to `onConnection`; tracks them for close(). */
export async function server(
  onConnection: (s: net.Socket) => void,
): Promise<{ port: number; sockets: Set<net.Socket>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    onConnection(s);
  });
  await new Promise<void>((r) => srv.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  return {
    port: (srv.address() as net.AddressInfo).port,
    sockets,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

/** Connects and resolves once connected. */
export function connect(port: number, allowHalfOpen = true): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

export { assert };
