// A connection's reservations are given back once, however many times its
// close path runs, and a refused take holds nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Table } from '../../daemon/state/table.js';
import { Reservations } from '../../daemon/data/reservations.js';
import { PoolQueue, PoolRuntime } from '../../daemon/data/pool-queue.js';
import { initOneBackendPool, oneBackendPlan } from './one-backend-pool.js';

function setup(): { table: Table; pool: PoolRuntime } {
  const table = new Table({ workers: 2, listeners: 2, pools: 1, backends: 2 });
  table.listeners.init(0, 1);
  initOneBackendPool(table, 0);
  return { table, pool: new PoolRuntime(oneBackendPlan(1), table, new PoolQueue(table, 1, 0)) };
}

const counts = (t: Table) => [
  t.listeners.active(0),
  t.backends.active(0),
  t.workers.stats(1).active,
  t.pools.queued(0),
];

test('everything taken is given back once, even when the close path runs twice', () => {
  const { table, pool } = setup();
  const held = new Reservations(table, 1);
  assert.equal(held.takeListener(0, { maxConnections: 0, listeners: [0] }), true);
  assert.equal(table.backends.acquire(1, 0), true);
  held.tookBackend(0);
  assert.equal(held.enterQueue(pool.queue, { retryFromQueue: () => false }, 1), true);
  assert.deepEqual(counts(table), [1, 1, 1, 1]);
  assert.equal(held.releaseAll(), 0, 'the backend slot given back');
  assert.deepEqual(counts(table), [0, 0, 0, 0]);
  assert.equal(held.releaseAll(), -1, 'nothing left to give back');
  assert.deepEqual(counts(table), [0, 0, 0, 0]);
  assert.equal(pool.queue.length, 0);
});

test('a listener at its max_connections, or a daemon at the global one, takes nothing', () => {
  const { table } = setup();
  const first = new Reservations(table, 1);
  assert.equal(first.takeListener(0, { maxConnections: 0, listeners: [0] }), true);
  const second = new Reservations(table, 1);
  assert.equal(second.takeListener(0, { maxConnections: 0, listeners: [0] }), false, 'listener max_connections = 1');
  table.listeners.init(1, 0);
  assert.equal(second.takeListener(1, { maxConnections: 1, listeners: [0, 1] }), false, 'global max_connections = 1');
  second.releaseAll();
  assert.deepEqual([table.listeners.active(0), table.listeners.active(1), table.workers.stats(1).active], [1, 0, 1]);
  first.releaseAll();
  assert.deepEqual([table.listeners.active(0), table.workers.stats(1).active], [0, 0]);
});

test('a worker that dies holding reservations has them given back, and says how many', () => {
  const { table, pool } = setup();
  const held = new Reservations(table, 1);
  held.takeListener(0, { maxConnections: 0, listeners: [0] });
  assert.equal(held.enterQueue(pool.queue, { retryFromQueue: () => false }, 1), true);
  table.backends.acquire(1, 0);
  assert.deepEqual(table.releaseWorker(1), { backends: 1, listeners: 1, queued: 1, sources: 0, connections: 1 });
  assert.deepEqual(counts(table), [0, 0, 0, 0]);
  assert.deepEqual(table.releaseWorker(0), { backends: 0, listeners: 0, queued: 0, sources: 0, connections: 0 });
});
