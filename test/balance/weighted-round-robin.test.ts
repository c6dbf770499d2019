import { test } from 'node:test';
import assert from 'node:assert/strict';
import { smoothSequence } from '../../daemon/data/balance/weighted-round-robin.js';
import { bench } from './harness.js';

test('weighted_round_robin 3:2:1 over 6000 picks gives exactly 3000, 2000, 1000', () => {
  const b = bench('weighted_round_robin', [3, 2, 1]);
  assert.deepEqual([...b.run(6000).values()], [3000, 2000, 1000]);
});

test('the sequence is smooth (nginx): weights 5,1,1 interleave instead of bursting', () => {
  assert.deepEqual([...smoothSequence([5, 1, 1])], [0, 0, 1, 0, 2, 0, 0]);
});

test('weights are reduced by their gcd and huge sums are scaled, keeping shares', () => {
  assert.equal(smoothSequence([200, 100]).length, 3);
  const seq = smoothSequence([256, 255, 1, 256, 3, 77]);
  const share = (i: number): number => seq.filter((x) => x === i).length / seq.length;
  const total = 256 + 255 + 1 + 256 + 3 + 77;
  assert.ok(Math.abs(share(0) - 256 / total) < 0.01);
  assert.ok(share(2) > 0, 'a weight-1 member still gets picks');
});

test('weighted_round_robin skips avoided backends and returns -1 when all are avoided', () => {
  const b = bench('weighted_round_robin', [3, 1]);
  for (let i = 0; i < 20; i++)
    assert.equal(b.balancer.pick({ clientAddress: '', avoid: [0], now: 0, random: Math.random, retry: true }), 1);
  assert.equal(b.balancer.pick({ clientAddress: '', avoid: [0, 1], now: 0, random: Math.random, retry: true }), -1);
});
