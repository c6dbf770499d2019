import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bench, ctx, seeded } from './harness.js';

test('random_two keeps open connections even: max-min stays small over 3000 long connections', () => {
  const b = bench('random_two', [1, 1, 1, 1, 1]);
  const random = seeded(42);
  for (let i = 0; i < 3000; i++) b.table.backends.acquire(0, b.balancer.pick(ctx({ random })));
  const active = b.members.map((m) => b.table.backends.active(m.slot));
  assert.equal(
    active.reduce((a, x) => a + x, 0),
    3000,
  );
  assert.ok(Math.max(...active) - Math.min(...active) <= 3, `active ${active.join(',')}`);
});

test('random_two draws in proportion to weight for short connections', () => {
  const b = bench('random_two', [3, 1]);
  const counts = b.run(20_000, { random: seeded(7) });
  const heavy = counts.get('web/b1')! / 20_000;
  assert.ok(heavy > 0.7 && heavy < 0.8, `heavy share ${heavy}`);
});

test('random_two prefers the less loaded of its two choices and honours avoid', () => {
  const b = bench('random_two', [1, 1]);
  for (let i = 0; i < 10; i++) b.table.backends.acquire(0, 0);
  for (let i = 0; i < 50; i++) assert.equal(b.balancer.pick(ctx({ random: seeded(i) })), 1);
  assert.equal(b.balancer.pick(ctx({ avoid: [1] })), 0);
  assert.equal(b.balancer.pick(ctx({ avoid: [0, 1] })), -1);
});
