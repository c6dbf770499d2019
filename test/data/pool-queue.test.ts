// The pool's one queue across workers, through two workers' views of one state
// table: the bound is the pool's, and a freed backend slot goes to the oldest
// waiter in any worker, woken by the pool's queue signal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Table } from '../../daemon/state/table.js';
import { PoolQueue, PoolRuntime, type Waiter } from '../../daemon/data/pool-queue.js';
import { initOneBackendPool, oneBackendPlan } from './one-backend-pool.js';
import { waitFor } from '../helpers/servers.js';

const CAP = { workers: 2, listeners: 1, pools: 1, backends: 1 };

/** The main thread's table with one backend at max_connections 1, and one pool runtime per worker over it. */
function setup(queueSize: number): { main: Table; workers: PoolRuntime[] } {
  const main = new Table(CAP);
  initOneBackendPool(main, 1);
  const workers = [0, 1].map((w) => {
    const t = new Table(CAP, main.buffer);
    return new PoolRuntime(oneBackendPlan(queueSize), t, new PoolQueue(t, w, 0));
  });
  return { main, workers };
}

/** A connection waiting in worker `w`: takes the backend slot when offered one, and records that it did. */
function waiter(name: string, w: number, pool: PoolRuntime, served: string[]): Waiter {
  const self: Waiter = {
    retryFromQueue: () => {
      const slot = pool.picker.acquire(w, { clientAddress: '', avoid: [], now: 0, random: Math.random, retry: false });
      if (slot < 0) return false;
      pool.queue.leave(self);
      served.push(name);
      return true;
    },
  };
  return self;
}

test('the queue bound is the pool’s, counted over every worker', () => {
  const { main, workers } = setup(3);
  const [w0, w1] = workers as [PoolRuntime, PoolRuntime];
  const none: string[] = [];
  const a = waiter('a', 0, w0, none);
  const b = waiter('b', 1, w1, none);
  const c = waiter('c', 0, w0, none);
  assert.equal(w0.queue.enter(a, 3), true);
  assert.equal(w1.queue.enter(b, 3), true);
  assert.equal(w0.queue.enter(c, 3), true);
  assert.equal(main.pools.queued(0), 3);
  assert.equal(w1.queue.enter(waiter('d', 1, w1, none), 3), false, 'full for worker 1');
  assert.equal(w0.queue.enter(waiter('e', 0, w0, none), 3), false, 'and for worker 0');
  assert.equal(main.pools.queued(0), 3);
  w0.queue.leave(a);
  const f = waiter('f', 1, w1, none);
  assert.equal(w1.queue.enter(f, 3), true, 'a place freed by one worker is another’s');
  assert.deepEqual([w0.queue.length, w1.queue.length, main.pools.queued(0)], [1, 2, 3]);
  for (const [q, x] of [
    [w1, b],
    [w0, c],
    [w1, f],
  ] as const)
    q.queue.leave(x);
  assert.deepEqual([w0.queue.length, w1.queue.length, main.pools.queued(0)], [0, 0, 0]);
  assert.deepEqual(none, [], 'nobody was served: nobody asked');
});

test('a freed slot goes to the oldest waiter in any worker, in ticket order', async () => {
  const { main, workers } = setup(8);
  const [w0, w1] = workers as [PoolRuntime, PoolRuntime];
  // worker 0 holds the one backend slot
  assert.equal(w0.picker.acquire(0, { clientAddress: '', avoid: [], now: 0, random: Math.random, retry: false }), 0);
  const served: string[] = [];
  const order: [string, PoolRuntime, number][] = [
    ['1st', w1, 1],
    ['2nd', w0, 0],
    ['3rd', w0, 0],
    ['4th', w1, 1],
  ];
  for (const [name, pool, w] of order) {
    const x = waiter(name, w, pool, served);
    assert.equal(pool.queue.enter(x, 8), true);
    pool.queue.wake();
  }
  assert.deepEqual(served, [], 'the slot is held');
  for (let k = 0; k < order.length; k++) {
    // the holder gives back its slot on worker 0, whose own head may be younger than worker 1's
    const holder = k === 0 ? 0 : order[k - 1]![2];
    main.backends.release(holder, 0);
    (holder === 0 ? w0 : w1).wake();
    await waitFor(() => served.length === k + 1, 2000, `waiter ${k + 1} served`);
    assert.equal(main.backends.active(0), 1);
  }
  assert.deepEqual(served, ['1st', '2nd', '3rd', '4th']);
  assert.equal(main.pools.queued(0), 0);
});
