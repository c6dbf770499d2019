import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMaglev } from '../../daemon/data/balance/ip-hash.js';
import { ALGORITHM_INFO } from '../../daemon/data/balance/index.js';
import { bench, ctx } from './harness.js';
import type { Member } from '../../daemon/data/balance/interface.js';

const clients = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);

test('ip_hash: one client address always reaches the same backend', () => {
  const b = bench('ip_hash', [1, 1, 1]);
  for (const addr of clients(200)) {
    const first = b.balancer.pick(ctx({ clientAddress: addr }));
    for (let k = 0; k < 5; k++) assert.equal(b.balancer.pick(ctx({ clientAddress: addr })), first);
  }
  const spread = new Set(clients(200).map((a) => b.balancer.pick(ctx({ clientAddress: a }))));
  assert.equal(spread.size, 3);
});

test('ip_hash: removing 1 backend of 10 remaps at most 15% of 10,000 keys', () => {
  const ten = bench('ip_hash', Array(10).fill(1));
  const nine = ALGORITHM_INFO.ip_hash.create({
    members: ten.members.filter((m) => m.slot !== 4),
    table: ten.table,
    pool: 0,
  });
  let moved = 0;
  let onRemoved = 0;
  for (const addr of clients(10_000)) {
    const before = ten.balancer.pick(ctx({ clientAddress: addr }));
    const after = nine.pick(ctx({ clientAddress: addr }));
    if (before === 4) onRemoved++;
    if (before !== after) moved++;
  }
  assert.ok(moved / 10_000 <= 0.15, `moved ${moved}`);
  assert.ok(onRemoved > 0 && moved >= onRemoved, 'every client of the removed backend moved');
});

test('ip_hash: the table is the same whatever the member order (every instance agrees)', () => {
  const members: Member[] = Array.from({ length: 6 }, (_, i) => ({ slot: i, weight: 1 + (i % 3), key: `p/b${i}` }));
  const a = buildMaglev(members);
  const b = buildMaglev([...members].reverse());
  assert.deepEqual(a, b);
});

test('ip_hash: entries are shared in proportion to weight', () => {
  const t = buildMaglev([
    { slot: 0, weight: 3, key: 'p/a' },
    { slot: 1, weight: 1, key: 'p/b' },
  ]);
  const share = t.filter((s) => s === 0).length / t.length;
  assert.ok(Math.abs(share - 0.75) < 0.01, `share ${share}`);
});

test('ip_hash: a retry avoiding the first choice gets a stable second choice', () => {
  const b = bench('ip_hash', [1, 1, 1]);
  const first = b.balancer.pick(ctx({ clientAddress: '192.0.2.7' }));
  const second = b.balancer.pick(ctx({ clientAddress: '192.0.2.7', avoid: [first] }));
  assert.notEqual(second, first);
  assert.equal(b.balancer.pick(ctx({ clientAddress: '192.0.2.7', avoid: [first] })), second);
  assert.equal(b.balancer.pick(ctx({ clientAddress: '192.0.2.7', avoid: [0, 1, 2] })), -1);
});
