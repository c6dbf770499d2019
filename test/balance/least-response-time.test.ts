import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bench, ctx } from './harness.js';

test('least_response_time sends most connections to the fastest backend', () => {
  const b = bench('least_response_time', [1, 1, 1]);
  b.table.backends.updateEwmaConnect(0, 1, 1);
  b.table.backends.updateEwmaFirstByte(0, 1, 1);
  b.table.backends.updateEwmaConnect(1, 1, 1);
  b.table.backends.updateEwmaFirstByte(1, 9, 1);
  b.table.backends.updateEwmaConnect(2, 1, 1);
  b.table.backends.updateEwmaFirstByte(2, 99, 1);
  // connections stay open: each pick raises that backend's score
  for (let i = 0; i < 300; i++) b.table.backends.acquire(0, b.balancer.pick(ctx()));
  const [fast, mid, slow] = [0, 1, 2].map((s) => b.table.backends.active(s)) as [number, number, number];
  assert.ok(fast > mid && mid > slow, `active ${fast}/${mid}/${slow}`);
  // score = time x (active+1) levels out: 2 ms x ~250 ~ 10 ms x ~50 ~ 100 ms x ~5
  assert.ok(fast > 240 && slow <= 5, `active ${fast}/${mid}/${slow}`);
});

test('an unmeasured backend counts as fast as the fastest measured one, not as free', () => {
  const b = bench('least_response_time', [1, 1]);
  b.table.backends.updateEwmaConnect(0, 5, 1);
  for (let i = 0; i < 100; i++) b.table.backends.acquire(0, b.balancer.pick(ctx()));
  assert.equal(b.table.backends.active(0), 50);
  assert.equal(b.table.backends.active(1), 50);
});
