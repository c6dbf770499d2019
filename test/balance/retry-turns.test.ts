// A retry takes no turn: for every algorithm, a retry pick (ctx.retry, the
// tried backends avoided) leaves the state that orders new connections as it
// was, so the split of new connections with a failing backend is the split
// without one. Scripted series of first picks and retries, exact sequences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALGORITHMS, type AlgorithmName } from '../../daemon/config/schema.js';
import { ALGORITHM_INFO } from '../../daemon/data/balance/index.js';
import { smoothSequence } from '../../daemon/data/balance/weighted-round-robin.js';
import type { Balancer } from '../../daemon/data/balance/interface.js';
import { bench, ctx, seeded } from './harness.js';

/**
 * `clients` new connections in sequence, none left open: each picks once; one
 * that lands on `failing` retries (avoiding it) until it lands elsewhere.
 * Returns each client's picks in order, e.g. [[0, 1], [1], ...].
 */
function clients(balancers: Balancer[], clients: number, failing: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < clients; i++) {
    // two workers take turns when there are two balancers
    const b = balancers[i % balancers.length]!;
    const tried: number[] = [];
    let slot = b.pick(ctx({ now: i }));
    const picks = [slot];
    while (slot === failing) {
      tried.push(slot);
      slot = b.pick(ctx({ now: i, avoid: tried, retry: true }));
      picks.push(slot);
    }
    out.push(picks);
  }
  return out;
}

test('round_robin: a retry goes on to the next backend and takes no turn, so new clients still alternate', () => {
  const b = bench('round_robin', [1, 1]);
  // backend 0 refuses every connect: every other client starts on it and retries on 1
  assert.deepEqual(clients([b.balancer], 6, 0), [[0, 1], [1], [0, 1], [1], [0, 1], [1]]);
  assert.equal(b.table.pools.peekCursor(0), 6, 'one turn per new client, none per retry');

  const three = bench('round_robin', [1, 1, 1]);
  assert.deepEqual(clients([three.balancer], 6, 0), [[0, 1], [1], [2], [0, 1], [1], [2]]);
  assert.equal(three.table.pools.peekCursor(0), 6);
});

test('round_robin over two workers (one shared cursor): retries in either take no turn', () => {
  const a = bench('round_robin', [1, 1]);
  const other = ALGORITHM_INFO.round_robin.create({ members: a.members, table: a.table, pool: 0 });
  const picks = clients([a.balancer, other], 100, 0);
  assert.equal(picks.filter((p) => p[0] === 0).length, 50, 'half of the new clients start on the failing backend');
  assert.ok(
    picks.every((p) => p[p.length - 1] === 1),
    'every retry lands on the other',
  );
  assert.equal(a.table.pools.peekCursor(0), 100);
});

test('weighted_round_robin: a retry takes no turn of the smooth sequence, so new clients keep the weights', () => {
  const b = bench('weighted_round_robin', [2, 1, 1]);
  assert.deepEqual([...smoothSequence([2, 1, 1])], [0, 1, 2, 0]);
  // backend 1 fails: its clients retry where the next new client will start (2, then 2 again)
  assert.deepEqual(clients([b.balancer], 8, 1), [[0], [1, 2], [2], [0], [0], [1, 2], [2], [0]]);
  assert.equal(b.table.pools.peekCursor(0), 8);
  // a retry never moves the sequence: 100 retries in between change nothing for the next client
  for (let i = 0; i < 100; i++) b.balancer.pick(ctx({ avoid: [1], retry: true }));
  assert.equal(b.balancer.pick(ctx()), 0);
  assert.equal(b.balancer.pick(ctx()), 1);
});

test('least_connections: a retry does not move the tie-breaking start, so alike idle backends still alternate', () => {
  const b = bench('least_connections', [1, 1]);
  // no connection stays open: every pick is a tie, broken by the start new clients rotate
  assert.deepEqual(clients([b.balancer], 6, 0), [[0, 1], [1], [0, 1], [1], [0, 1], [1]]);
  // inherent, not a turn: a failing backend with fewer open connections wins the next new client
  b.table.backends.acquire(0, 1);
  assert.equal(b.balancer.pick(ctx()), 0);
  assert.equal(b.balancer.pick(ctx()), 0);
});

test('least_response_time: retries earn no exploring credit; the exploring pick comes at the same new client', () => {
  // no samples: every backend is "unknown" alike, a tie kept by the first (random 0.99); an
  // exploring pick goes to the stalest, the last of the never-measured: backend 1
  const series = (retriesEach: number): number[] => {
    const b = bench('least_response_time', [1, 1]);
    const firsts: number[] = [];
    for (let i = 0; i < 30; i++) {
      const now = i * 10;
      firsts.push(b.balancer.pick(ctx({ now, random: () => 0.99 })));
      for (let k = 0; k < retriesEach; k++) {
        assert.equal(b.balancer.pick(ctx({ now, random: () => 0.99, avoid: [1], retry: true })), 0);
      }
    }
    return firsts;
  };
  const plain = series(0);
  assert.equal(plain.filter((s) => s === 1).length, 1, 'one exploring pick in 30 new clients (5%)');
  assert.deepEqual(series(5), plain, 'five retries per client change no new client’s pick');
});

test('every algorithm: retries in between leave the first picks of new clients as they were', () => {
  for (const name of ALGORITHMS as readonly AlgorithmName[]) {
    const firsts = (withRetries: boolean): number[] => {
      const b = bench(name, [3, 2, 1, 1]);
      // the draws of new clients and of retries come from separate generators
      const random = seeded(5);
      const retryRandom = seeded(9);
      const out: number[] = [];
      for (let i = 0; i < 200; i++) {
        const clientAddress = `198.51.100.${i % 250}`;
        const slot = b.balancer.pick(ctx({ clientAddress, now: i * 10, random }));
        out.push(slot);
        if (!withRetries) continue;
        const tried = [slot];
        for (let k = 0; k < 2; k++) {
          const again = b.balancer.pick(
            ctx({ clientAddress, now: i * 10, random: retryRandom, avoid: tried, retry: true }),
          );
          assert.ok(again >= 0 && !tried.includes(again), `${name}: a retry picks an untried backend`);
          tried.push(again);
        }
      }
      return out;
    };
    assert.deepEqual(firsts(true), firsts(false), `${name}: retries took a turn`);
  }
});
