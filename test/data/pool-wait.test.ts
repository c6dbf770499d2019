// One connection's wait for a backend (PoolWait), as both relays use it, over a
// real state table: a free backend is connected to, a full pool queues the
// connection until a slot frees or its queue timeout refuses it, a full queue
// or no eligible backend refuses it, and a new connection waits behind those
// already waiting. A retry goes to a backend not tried yet, else to the tried
// ones again (the one that just failed after the turnaround), taking no turn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpState, type RejectReason } from '../../daemon/state/names.js';
import { Table } from '../../daemon/state/table.js';
import { PoolQueue, PoolRuntime, type Waiter } from '../../daemon/data/pool-queue.js';
import { PoolWait, TURNAROUND_MS } from '../../daemon/data/pool-wait.js';
import { Reservations } from '../../daemon/data/reservations.js';
import { initOneBackendPool, oneBackendPlan } from './one-backend-pool.js';

const CAP = { workers: 1, listeners: 1, pools: 1, backends: 1 };

/** One backend at max_connections 1 in worker 0's pool. */
function setup(queueSize: number, queueTimeout = 10_000): { table: Table; pool: PoolRuntime } {
  const table = new Table(CAP);
  initOneBackendPool(table, 1);
  return { table, pool: new PoolRuntime(oneBackendPlan(queueSize, queueTimeout), table, new PoolQueue(table, 0, 0)) };
}

/** `n` backends (slots 0..n-1, no limit) in pool "web" (round robin), connect timeout `connectMs`. */
function setupMany(n: number, connectMs: number): { table: Table; pool: PoolRuntime } {
  const table = new Table({ workers: 1, listeners: 1, pools: 1, backends: n });
  table.pools.init(0, 0);
  const members = [];
  for (let slot = 0; slot < n; slot++) {
    table.backends.init(
      slot,
      { pool: 0, weight: 1, maxConnections: 0, backup: false, generation: 1, op: OpState.Up },
      0,
    );
    members.push({ slot, key: `web/b${slot}`, host: '127.0.0.1', port: 1, backup: false });
  }
  const plan = { ...oneBackendPlan(0), retries: 5, connectTimeout: connectMs, members };
  return { table, pool: new PoolRuntime(plan, table, new PoolQueue(table, 0, 0)) };
}

/** A connection's side of a wait: what it was called back with, and a promise of the next call. */
class Conn {
  readonly calls: string[] = [];
  readonly held: Reservations;
  readonly tried: number[] = [];
  readonly wait: PoolWait;
  private next: (() => void) | null = null;

  constructor(table: Table) {
    this.held = new Reservations(table, 0);
    const ctx = { clientAddress: '192.0.2.1', avoid: this.tried, now: 0, random: Math.random, retry: false };
    const owner = {
      fault: (err: unknown): void => {
        throw err;
      },
    };
    this.wait = new PoolWait(0, ctx, this.tried, this.held, owner, {
      backendReserved: (slot: number) => this.called(`connect ${slot}`),
      noBackend: (reason: RejectReason) => this.called(`refuse ${reason}`),
    });
  }

  /** Resolves at the next call back. */
  called(what?: string): Promise<void> {
    if (what === undefined) return new Promise((resolve) => (this.next = resolve));
    this.calls.push(what);
    const n = this.next;
    this.next = null;
    n?.();
    return Promise.resolve();
  }
}

test('a free backend is connected to, with its slot held', () => {
  const { table, pool } = setup(0);
  const c = new Conn(table);
  c.wait.pick(pool, true);
  assert.deepEqual(c.calls, ['connect 0']);
  assert.equal(c.held.backend, 0);
  assert.equal(table.backends.active(0), 1);
  assert.equal(c.wait.queued, false);
});

test('full and no queue: refused under max_connections; no eligible backend: no_backend', () => {
  const { table, pool } = setup(0);
  const first = new Conn(table);
  first.wait.pick(pool, true);
  const second = new Conn(table);
  second.wait.pick(pool, true);
  assert.deepEqual(second.calls, ['refuse max_connections']);
  assert.equal(second.held.backend, -1);
  first.held.releaseAll();
  table.backends.setOpState(0, OpState.Down, 0, 0);
  const third = new Conn(table);
  third.wait.pick(pool, true);
  assert.deepEqual(third.calls, ['refuse no_backend']);
});

test('full: waits in the queue, forgets what it tried, and takes the slot once it is given back', () => {
  const { table, pool } = setup(4);
  const first = new Conn(table);
  first.wait.pick(pool, true);
  const second = new Conn(table);
  // a retry that avoids a backend the pool no longer has: the one it has is full
  second.tried.push(7);
  second.wait.pick(pool, false);
  assert.deepEqual(second.calls, []);
  assert.equal(second.wait.queued, true);
  assert.deepEqual(second.tried, [], 'whichever backend frees first serves it');
  assert.equal(table.pools.queued(0), 1);
  // the first connection closes: its slot goes to the waiter
  if (first.held.releaseAll() >= 0) pool.wake();
  assert.deepEqual(second.calls, ['connect 0']);
  assert.equal(second.wait.queued, false);
  assert.equal(second.held.backend, 0);
  assert.equal(table.pools.queued(0), 0);
});

test('the queue timeout refuses a waiter (queue_timeout) and gives back its place', async () => {
  const { table, pool } = setup(4, 30);
  new Conn(table).wait.pick(pool, true);
  const waiting = new Conn(table);
  const refused = waiting.called();
  waiting.wait.pick(pool, true);
  assert.equal(table.pools.queued(0), 1);
  await refused;
  assert.deepEqual(waiting.calls, ['refuse queue_timeout']);
  assert.equal(waiting.wait.queued, false);
  assert.equal(table.pools.queued(0), 0);
});

test('a full queue refuses under max_connections, holding nothing', () => {
  const { table, pool } = setup(1);
  new Conn(table).wait.pick(pool, true);
  const a = new Conn(table);
  a.wait.pick(pool, true);
  const b = new Conn(table);
  b.wait.pick(pool, true);
  assert.deepEqual(b.calls, ['refuse max_connections']);
  assert.equal(table.pools.queued(0), 1);
  a.held.releaseAll();
  a.wait.cancel();
  assert.equal(table.pools.queued(0), 0);
});

test('a new connection takes its place behind those waiting even with a slot free; a retry picks at once', () => {
  const { table, pool } = setup(4);
  // someone waits (a waiter that never takes a slot), and the backend is free
  const other: Waiter = { retryFromQueue: () => false };
  assert.equal(pool.queue.enter(other, 4), true);
  const fresh = new Conn(table);
  fresh.wait.pick(pool, true);
  assert.deepEqual(fresh.calls, []);
  assert.equal(fresh.wait.queued, true);
  const retry = new Conn(table);
  retry.wait.pick(pool, false);
  assert.deepEqual(retry.calls, ['connect 0']);
  fresh.held.releaseAll();
  fresh.wait.cancel();
  pool.queue.leave(other);
  assert.equal(table.pools.queued(0), 0);
});

test('a retry in a one-backend pool goes to that backend again after min(timeouts.connect, 1 s), its slot held meanwhile', async () => {
  const { table, pool } = setupMany(1, 60);
  const c = new Conn(table);
  c.wait.pick(pool, true);
  assert.deepEqual(c.calls, ['connect 0']);
  // the connect failed: the connection lets go of the backend and retries
  c.held.releaseBackend();
  c.tried.push(0);
  const started = performance.now();
  const connected = c.called();
  c.wait.pick(pool, false);
  assert.deepEqual(c.calls, ['connect 0'], 'not at once: the turnaround first');
  assert.equal(c.held.backend, 0, 'the backend is reserved while it waits');
  assert.equal(table.backends.active(0), 1);
  await connected;
  assert.deepEqual(c.calls, ['connect 0', 'connect 0']);
  assert.ok(performance.now() - started >= 55, 'after the turnaround (60 ms: the connect timeout, under 1 s)');
  assert.equal(TURNAROUND_MS, 1000, "HAProxy's one second");
  c.held.releaseAll();
});

test('a connection closed during the turnaround is never connected, and gives its backend back', async () => {
  const { table, pool } = setupMany(1, 30);
  const c = new Conn(table);
  c.tried.push(0);
  c.wait.pick(pool, false);
  assert.equal(table.backends.active(0), 1);
  // the close path: Reservations.releaseAll, then the wait's cancel
  c.held.releaseAll();
  c.wait.cancel();
  assert.equal(table.backends.active(0), 0);
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(c.calls, []);
});

test('every backend tried: the retry goes round them again at once, the one that just failed last', () => {
  const { table, pool } = setupMany(3, 1000);
  const c = new Conn(table);
  c.wait.pick(pool, true);
  const order = [c.held.backend];
  // each attempt fails: 3 backends, then round again, never the one that just failed
  for (let k = 0; k < 5; k++) {
    const failed = c.held.releaseBackend();
    c.tried.push(failed);
    c.wait.pick(pool, false);
    assert.equal(c.calls.length, k + 2, 'connected at once: not the backend that just failed');
    order.push(c.held.backend);
  }
  assert.deepEqual(order.slice(0, 3).sort(), [0, 1, 2], 'each backend once before any again');
  for (let k = 1; k < order.length; k++) assert.notEqual(order[k], order[k - 1]);
  assert.equal(table.pools.peekCursor(0), 1, 'the retries took no turn of the rotation');
  c.held.releaseAll();
});

test('a retry finding no eligible backend at all is refused no_backend', () => {
  const { table, pool } = setupMany(2, 1000);
  const c = new Conn(table);
  c.wait.pick(pool, true);
  const failed = c.held.releaseBackend();
  c.tried.push(failed);
  table.backends.setOpState(0, OpState.Down, 0, 0);
  table.backends.setOpState(1, OpState.Down, 0, 0);
  c.wait.pick(pool, false);
  assert.deepEqual(c.calls, [`connect ${failed}`, 'refuse no_backend']);
});

test('a connection queued after its pick took a turn takes none from the queue; one queued without a pick takes its turn there', () => {
  const { table, pool } = setupMany(2, 1000);
  table.backends.setMaxConnections(0, 1);
  table.backends.setMaxConnections(1, 1);
  const plan = { ...pool.plan, queueSize: 4 };
  const queued = new PoolRuntime(plan, table, pool.queue);
  const a = new Conn(table);
  const b = new Conn(table);
  a.wait.pick(queued, true);
  b.wait.pick(queued, true);
  assert.equal(table.pools.peekCursor(0), 2);
  // both full: this one picks (a turn), finds them full, and waits
  const c = new Conn(table);
  c.wait.pick(queued, true);
  assert.equal(c.wait.queued, true);
  assert.equal(table.pools.peekCursor(0), 3);
  // a new one queues behind it without a pick
  const d = new Conn(table);
  d.wait.pick(queued, true);
  assert.equal(d.wait.queued, true);
  assert.equal(table.pools.peekCursor(0), 3);
  // a slot frees: the first waiter is served without a turn; the second tries (its one turn) and waits on
  a.held.releaseAll();
  queued.wake();
  assert.equal(c.calls.length, 1);
  assert.equal(d.calls.length, 0);
  assert.equal(table.pools.peekCursor(0), 4);
  // another: the second waiter is served, without a second turn
  b.held.releaseAll();
  queued.wake();
  assert.equal(d.calls.length, 1);
  assert.equal(table.pools.peekCursor(0), 4);
  c.held.releaseAll();
  d.held.releaseAll();
});
