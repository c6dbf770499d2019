import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALGORITHM_INFO } from '../../daemon/data/balance/index.js';
import { bench, ctx } from './harness.js';

test('round_robin gives 3 backends exactly 1000 picks each out of 3000, in order', () => {
  const b = bench('round_robin', [1, 1, 1]);
  const first = [0, 1, 2, 3, 4, 5].map(() => b.keyOf(b.balancer.pick(ctx())));
  assert.deepEqual(first, ['web/b1', 'web/b2', 'web/b3', 'web/b1', 'web/b2', 'web/b3']);
  assert.deepEqual([...bench('round_robin', [1, 1, 1]).run(3000).values()], [1000, 1000, 1000]);
});

test('round_robin ignores weights and skips the backends a retry avoids', () => {
  const b = bench('round_robin', [5, 1, 1]);
  assert.deepEqual([...b.run(300).values()], [100, 100, 100]);
  for (let i = 0; i < 10; i++) assert.notEqual(b.balancer.pick(ctx({ avoid: [0] })), 0);
  assert.equal(b.balancer.pick(ctx({ avoid: [0, 1, 2] })), -1);
});

test('round_robin shares one cursor: two balancers on one pool (two workers) still split exactly', () => {
  const a = bench('round_robin', [1, 1, 1]);
  const other = ALGORITHM_INFO.round_robin.create({ members: a.members, table: a.table, pool: 0 });
  const counts = new Map<number, number>();
  for (let i = 0; i < 3000; i++) {
    // an uneven interleaving of the two workers
    const slot = (i % 7 < 3 ? a.balancer : other).pick(ctx());
    counts.set(slot, (counts.get(slot) ?? 0) + 1);
  }
  assert.deepEqual([...counts.values()], [1000, 1000, 1000]);
});
