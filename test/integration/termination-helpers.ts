// What the termination tests share: the active counts a connection holds in the
// state table (all back at zero after every ending), scripted backends and a
// client that records how its connection ended.
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Daemon } from '../../daemon/control/daemon.js';
import { waitFor } from '../helpers/servers.js';

export interface Counts {
  listeners: number;
  backends: number;
  workers: number;
  sources: number;
  queued: number;
}
export const ZERO: Counts = { listeners: 0, backends: 0, workers: 0, sources: 0, queued: 0 };

/** Every active count in the table, summed over all slots (removed ones still draining included). */
export function held(d: Daemon): Counts {
  const t = d.table;
  const c = { ...ZERO };
  for (const slot of d.topology.listeners.bySlot.keys()) c.listeners += t.listeners.active(slot);
  for (const [, slot] of d.topology.backends.entries()) c.backends += t.backends.active(slot);
  for (let w = 0; w < t.cap.workers; w++) c.workers += t.workers.stats(w).active;
  for (let i = 0; i < t.sources.capacity; i++) c.sources += t.sources.active(i);
  for (const [, slot] of d.topology.pools.entries()) c.queued += t.pools.queued(slot);
  return c;
}

export async function allReleased(d: Daemon, after: string): Promise<void> {
  const zero = (): boolean => Object.values(held(d)).every((n) => n === 0);
  await waitFor(zero, 5000, `every count back at zero after ${after}`).catch(() => undefined);
  assert.deepEqual(held(d), ZERO, `after ${after}`);
}

/** A backend that greets with its name, echoes, and on "FIN" ends, on "RST" resets its side. */
export async function startScripted(name: string): Promise<{ port: number; close(): Promise<void> }> {
  const open = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (c) => {
    open.add(c);
    c.on('close', () => open.delete(c));
    c.on('error', () => {});
    c.write(`${name}\n`);
    c.on('data', (d: Buffer) => {
      const s = d.toString();
      if (s.includes('FIN')) c.end();
      else if (s.includes('RST')) c.resetAndDestroy();
      else c.write(d);
    });
    c.on('end', () => c.end());
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((r) => {
        for (const c of open) c.destroy();
        server.close(() => r());
      }),
  };
}

/** A client that records what it receives and how its connection ended. */
export class Client {
  text = '';
  error: NodeJS.ErrnoException | null = null;
  readonly closed: Promise<void>;
  readonly socket: net.Socket;

  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.socket.setEncoding('utf8');
    this.socket.on('data', (d: string) => (this.text += d));
    this.socket.on('error', (e) => (this.error = e));
    this.closed = new Promise((r) => this.socket.once('close', () => r()));
  }

  /** Resolves when `text` has arrived; rejects if the connection closes first. */
  until(text: string, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.text.includes(text)) done(null);
        else if (this.socket.closed) done(new Error(`closed before "${text}" (got ${JSON.stringify(this.text)})`));
      };
      const done = (err: Error | null): void => {
        clearTimeout(timer);
        this.socket.off('data', check);
        this.socket.off('close', check);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => done(new Error(`no "${text}" within ${timeoutMs} ms`)), timeoutMs);
      this.socket.on('data', check);
      this.socket.on('close', check);
      queueMicrotask(check);
    });
  }

  /** Resolves when the connection has closed with a reset, nothing received; rejects after `timeoutMs`. */
  async refused(timeoutMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.socket.destroy();
        reject(new Error(`not closed within ${timeoutMs} ms (got ${JSON.stringify(this.text)})`));
      }, timeoutMs);
    });
    await Promise.race([this.closed, late]).finally(() => clearTimeout(timer));
    assert.equal(this.text, '', 'a refused client gets no byte from a backend');
    // a clean FIN with no byte would pass for an exchange that completed with an empty answer
    assert.equal(this.error?.code, 'ECONNRESET', 'a refused client gets a reset, never a clean FIN');
  }
}

export function listener(d: Daemon, name: string): ReturnType<Daemon['snapshot']>['listeners'][number] {
  return d.snapshot().listeners.find((l) => l.name === name)!;
}

export function rejected(d: Daemon, listener: string, reason: string): number {
  return d.snapshot().listeners.find((l) => l.name === listener)!.rejected[reason] ?? 0;
}

/** A backend that resets every connection at once (`onData`: when the client's first bytes arrive), or never answers (`mute`). */
export async function startFailing(mode: 'accept' | 'onData' | 'mute'): Promise<{ port: number; close(): void }> {
  const open = new Set<net.Socket>();
  const server = net.createServer((c) => {
    open.add(c);
    c.on('close', () => open.delete(c));
    c.on('error', () => {});
    if (mode === 'accept') c.resetAndDestroy();
    else if (mode === 'onData') c.on('data', () => c.resetAndDestroy());
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const c of open) c.destroy();
      server.close();
    },
  };
}
