// The pool's queue over real sockets with two workers: queue_size bounds the
// waiters of the whole pool, whichever worker accepted them, and a freed slot
// goes to the oldest waiter, in whichever worker it waits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startNamedEcho, freePort, waitFor } from '../helpers/servers.js';
import { startTestDaemon, simpleConfig, type TestDaemon } from '../helpers/daemon.js';

/** A client connection and what it has seen: the backend's greeting, or a close without one. */
interface Client {
  sock: net.Socket;
  greeted: boolean;
  closed: boolean;
  /** the worker that accepted it */
  worker: number;
}

function config(port: number, backendPort: number, queueSize: number): string {
  return simpleConfig({
    listenPort: port,
    workers: 2,
    extraPool: `queue_size = ${queueSize}`,
    backends: [{ name: 'a', port: backendPort, maxConnections: 1 }],
  }).replace('connect = "1s"', 'connect = "1s", queue = "20s"');
}

/** connections each worker accepted so far */
const acceptedIn = (d: TestDaemon): number[] => [0, 1].map((w) => d.daemon.table.workers.stats(w).accepted);

/**
 * Connect one client and wait until a worker counts it accepted (so clients are
 * accepted in the order they are opened); `order` records greetings as they come.
 */
async function open(d: TestDaemon, port: number, order: Client[]): Promise<Client> {
  const before = acceptedIn(d);
  const c: Client = { sock: net.connect({ host: '127.0.0.1', port }), greeted: false, closed: false, worker: -1 };
  c.sock.on('data', () => {
    if (c.greeted) return;
    c.greeted = true;
    order.push(c);
  });
  c.sock.on('close', () => (c.closed = true));
  c.sock.on('error', () => {});
  await waitFor(() => acceptedIn(d).some((n, w) => n > before[w]!), 5000, 'the daemon to count the connection');
  c.worker = acceptedIn(d).findIndex((n, w) => n > before[w]!);
  return c;
}

test('queue_size = 3 lets 3 connections wait in the pool, over both workers', async () => {
  const a = await startNamedEcho('a');
  const port = await freePort();
  const d = await startTestDaemon(config(port, a.port, 3));
  const clients: Client[] = [];
  const greeted: Client[] = [];
  try {
    const holder = await open(d, port, greeted);
    clients.push(holder);
    await waitFor(() => holder.greeted, 3000, 'the holder served');
    // until both workers accepted some of them (bounded): a per-worker queue would let each take 3
    const seen = new Set<number>();
    for (let i = 0; i < 40 && (clients.length < 9 || seen.size < 2); i++) {
      const c = await open(d, port, greeted);
      clients.push(c);
      if (c.worker >= 0) seen.add(c.worker);
    }
    assert.equal(seen.size, 2, 'both workers accepted clients');
    const others = clients.length - 1;
    await waitFor(() => clients.filter((c) => c.closed).length >= others - 3, 5000, 'the clients beyond 3 refused');
    const snap = d.daemon.snapshot();
    assert.equal(snap.pools[0]!.queued, 3, 'waiting in the pool');
    assert.equal(clients.filter((c) => !c.closed && !c.greeted).length, 3, 'waiting clients');
    assert.equal(clients.filter((c) => c.closed && !c.greeted).length, others - 3, 'refused without a byte');
    assert.equal(snap.listeners[0]!.rejected['max_connections'], others - 3);
  } finally {
    for (const c of clients) c.sock.destroy();
    await d.stop();
    await a.close();
  }
});

test('a freed slot goes to the oldest waiter in either worker, in the order they came', async () => {
  const a = await startNamedEcho('a');
  const port = await freePort();
  const d = await startTestDaemon(config(port, a.port, 10));
  const waiting: Client[] = [];
  const greeted: Client[] = [];
  let holder: Client | null = null;
  const all: Client[] = [];
  try {
    holder = await open(d, port, greeted);
    all.push(holder);
    await waitFor(() => holder!.greeted, 3000, 'the holder served');
    const queued = (): number => d.daemon.snapshot().pools[0]!.queued;
    /** The holder leaves: the oldest waiter must be served, and holds the slot in turn. */
    const release = async (): Promise<void> => {
      const n = greeted.length;
      holder!.sock.destroy();
      await waitFor(() => greeted.length > n, 5000, 'a waiter served');
      assert.equal(greeted.length, n + 1, 'one waiter served per freed slot');
      assert.equal(greeted[n], waiting[0], `the oldest waiter (worker ${waiting[0]!.worker}) is served`);
      holder = waiting.shift()!;
    };
    // Wanted: the oldest waiter on the other worker than the holder's, and a younger one on the
    // holder's: a worker that served its own waiters first would give the holder's slot to that one.
    const ready = (): boolean =>
      waiting.length >= 3 && waiting[0]!.worker !== holder!.worker && waiting.some((w) => w.worker === holder!.worker);
    for (let i = 0; i < 60 && !ready(); i++) {
      const c = await open(d, port, greeted);
      all.push(c);
      waiting.push(c);
      await waitFor(() => queued() === waiting.length, 3000, 'the client queued');
      while (waiting.length > 0 && (waiting[0]!.worker === holder.worker || waiting.length >= 9)) await release();
    }
    assert.ok(ready(), `waiters on both workers: ${waiting.map((w) => w.worker).join(',')}, holder ${holder.worker}`);
    while (waiting.length > 0) await release();
    assert.equal(queued(), 0);
  } finally {
    for (const c of all) c.sock.destroy();
    await d.stop();
    await a.close();
  }
});
