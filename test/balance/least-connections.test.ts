import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bench, ctx } from './harness.js';

test('least_connections picks the backend with the fewest open connections', () => {
  const b = bench('least_connections', [1, 1, 1]);
  for (let i = 0; i < 5; i++) b.table.backends.acquire(0, 0);
  for (let i = 0; i < 2; i++) b.table.backends.acquire(0, 1);
  assert.equal(b.balancer.pick(ctx()), 2);
  b.table.backends.acquire(0, 2);
  b.table.backends.acquire(0, 2);
  b.table.backends.acquire(0, 2);
  assert.equal(b.balancer.pick(ctx()), 1);
});

test('least_connections weighs: a weight-3 backend carries three times the connections', () => {
  const b = bench('least_connections', [3, 1]);
  // open connections as the picks arrive and never close them: the steady split follows the weights
  for (let i = 0; i < 400; i++) b.table.backends.acquire(0, b.balancer.pick(ctx()));
  assert.equal(b.table.backends.active(0), 300);
  assert.equal(b.table.backends.active(1), 100);
});

test('least_connections shares ties evenly', () => {
  const b = bench('least_connections', [1, 1]);
  assert.deepEqual([...b.run(1000).values()], [500, 500]);
});

test('least_connections honours avoid', () => {
  const b = bench('least_connections', [1, 1]);
  b.table.backends.acquire(0, 1);
  assert.equal(b.balancer.pick(ctx({ avoid: [0] })), 1);
});
