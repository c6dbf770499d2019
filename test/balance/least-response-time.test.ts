// least_response_time on an injected clock: samples go into the table's
// histograms as the relay records them; the pool simulation (pool-sim.ts) runs
// closed-loop clients against backends whose response time changes over time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram } from '../../daemon/state/names.js';
import { EXPLORE_SHARE, PROBE_AFTER_MS } from '../../daemon/data/balance/least-response-time.js';
import { bench, ctx, seeded, type Bench } from './harness.js';
import { simulate, sharesBetween } from './pool-sim.js';

/** n samples of `ms` to first byte (and a tenth of it to connect) for a slot, recorded as the relay does. */
function feed(b: Bench, slot: number, ms: number, n = 1): void {
  for (let i = 0; i < n; i++) {
    b.table.backends.updateEwmaConnect(slot, ms / 10);
    b.table.backendStats.observe(0, slot, Histogram.Connect, ms / 10 / 1000);
    b.table.backends.updateEwmaFirstByte(slot, ms);
    b.table.backendStats.observe(0, slot, Histogram.FirstByte, ms / 1000);
  }
}

/** Normal-ish noise: mean `ms`, spread `cv` x ms, never below a tenth of ms. */
function noisy(random: () => number, ms: number, cv: number): number {
  const z = (random() + random() + random() - 1.5) * 2; // sd ~1
  return Math.max(ms / 10, ms * (1 + cv * z));
}

test('sends most connections to the fastest backend while the others stay measured', () => {
  const b = bench('least_response_time', [1, 1, 1]);
  const c = ctx({ random: seeded(1) });
  b.balancer.pick({ ...c, now: 0 }); // first look: the baseline
  feed(b, 0, 2);
  feed(b, 1, 10);
  feed(b, 2, 100);
  // connections stay open: each pick raises that backend's score
  for (let i = 0; i < 300; i++) b.table.backends.acquire(0, b.balancer.pick({ ...c, now: 200 + i * 0.01 }));
  const [fast, mid, slow] = [0, 1, 2].map((s) => b.table.backends.active(s)) as [number, number, number];
  // score = time x (active+1) levels out: 2.2 ms x ~250 ~ 11 ms x ~50 ~ 110 ms x ~5
  assert.ok(fast > mid && mid > slow, `active ${fast}/${mid}/${slow}`);
  assert.ok(fast > 220 && slow <= 12, `active ${fast}/${mid}/${slow}`);
});

test('an unmeasured backend counts as fast as the fastest measured one, not as free', () => {
  const b = bench('least_response_time', [1, 1]);
  const c = ctx({ random: seeded(2) });
  b.balancer.pick({ ...c, now: 0 });
  feed(b, 0, 5);
  for (let i = 0; i < 100; i++) b.table.backends.acquire(0, b.balancer.pick({ ...c, now: 150 }));
  // ties within the tolerance are shared: 50/50 give or take the tolerance band
  assert.ok(
    Math.abs(b.table.backends.active(0) - 50) <= 3,
    `active ${b.table.backends.active(0)}/${b.table.backends.active(1)}`,
  );
});

test('a cold first sample is forgotten: the backend is measured again and gets its share', () => {
  const b = bench('least_response_time', [1, 1, 1]);
  const random = seeded(3);
  // b1's first connection is a cold one (JIT, connection setup): 8.7 ms, then 0.5 ms like the others
  let cold = true;
  const picks = simulate(b, {
    clients: 4,
    durationMs: 60_000,
    thinkMs: 100,
    random,
    latency: (slot) => {
      if (slot === 0 && cold) {
        cold = false;
        return 8.7;
      }
      return noisy(random, 0.5, 0.3);
    },
  });
  const later = sharesBetween(b, picks, 10_000, 60_000);
  const total = [...later.values()].reduce((a, x) => a + x, 0);
  for (const [k, n] of later) assert.ok(n / total > 0.28 && n / total < 0.39, `${k} got ${n} of ${total}`);
});

test('a backend that slowed down and recovered gets its share back within seconds', () => {
  const b = bench('least_response_time', [1, 1, 1]);
  const random = seeded(4);
  // b1 answers in 50 ms from 10 s to 30 s, in 0.5 ms otherwise
  const slow = (slot: number, now: number): boolean => slot === 0 && now >= 10_000 && now < 30_000;
  const picks = simulate(b, {
    clients: 4,
    durationMs: 70_000,
    thinkMs: 100,
    random,
    latency: (slot, now) => noisy(random, slow(slot, now) ? 50 : 0.5, 0.3),
  });
  const share = (from: number, to: number): number => {
    const s = sharesBetween(b, picks, from, to);
    return s.get('web/b1')! / [...s.values()].reduce((a, x) => a + x, 0);
  };
  assert.ok(share(0, 10_000) > 0.25, `b1 before: ${share(0, 10_000)}`);
  // while slow, b1 only sees the exploring picks: about one probe a second, which
  // keeps its estimate fresh, and no more
  const probes = sharesBetween(b, picks, 12_000, 30_000).get('web/b1')!;
  const most = 18_000 / PROBE_AFTER_MS;
  assert.ok(probes >= most * 0.75 && probes <= most + 1, `b1 got ${probes} picks in 18 s while slow`);
  // a fair share again within 5 s of recovering (a probe or two), and kept
  let back = NaN;
  for (let t = 30_000; t < 40_000 && Number.isNaN(back); t += 1000) if (share(t, t + 1000) >= 0.25) back = t;
  assert.ok(back <= 35_000, `b1 back to a quarter of the picks at ${back} ms`);
  const after = share(35_000, 70_000);
  assert.ok(after > 0.28 && after < 0.39, `b1 after: ${after}`);
});

test('alike backends split evenly with four clients, though scheduling hiccups make one look slow now and then', () => {
  const b = bench('least_response_time', [1, 1]);
  const random = seeded(5);
  const picks = simulate(b, {
    clients: 4,
    durationMs: 30_000,
    thinkMs: 40,
    random,
    // 0.6 ms give or take half, and one answer in fifty held up 10-20 ms (a busy host)
    latency: () => (random() < 0.02 ? 10 + 10 * random() : noisy(random, 0.6, 0.5)),
  });
  const s = sharesBetween(b, picks, 0, 30_000);
  const [b1, b2] = [s.get('web/b1')!, s.get('web/b2')!];
  const total = b1 + b2;
  assert.ok(total > 2500, `${total} picks`);
  assert.ok(Math.abs(b1 / total - 0.5) < 0.05, `b1 ${b1} b2 ${b2}`);
});

test('a still-slow backend gets no more than the exploring share', () => {
  const b = bench('least_response_time', [1, 1, 1]);
  const random = seeded(6);
  const picks = simulate(b, {
    clients: 8,
    durationMs: 30_000,
    random,
    latency: (slot) => noisy(random, slot === 0 ? 40 : 2, 0.25),
  });
  const s = sharesBetween(b, picks, 5_000, 30_000);
  const total = [...s.values()].reduce((a, x) => a + x, 0);
  const slow = s.get('web/b1')!;
  assert.ok(slow >= 20, `b1 probed ${slow} times in 25 s`);
  assert.ok(slow / total <= EXPLORE_SHARE / 3, `b1 got ${slow} of ${total}`);
});

test('a retry avoids the backend it names, exploring or not', () => {
  const b = bench('least_response_time', [1, 1]);
  const c = ctx({ random: seeded(7) });
  for (let i = 0; i < 200; i++) assert.equal(b.balancer.pick({ ...c, now: i * 50, avoid: [0] }), 1);
  assert.equal(b.balancer.pick({ ...c, now: 20_000, avoid: [0, 1] }), -1);
});
