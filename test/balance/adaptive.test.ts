// Adaptive: the policy's choices, the controller's hysteresis on a fake clock, the
// worker-side balancer following the pool slot, and the whole loop (workers'
// picks, samples, the controller's fresh estimates) on a simulated clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recommend, loadCv, slowerBackends, type AdaptiveSample } from '../../daemon/control/adaptive/policy.js';
import { AdaptiveController, type AdaptiveBackend } from '../../daemon/control/adaptive/controller.js';
import { LatencyEstimates } from '../../daemon/data/balance/latency-estimates.js';
import { ALGORITHMS } from '../../daemon/config/schema.js';
import { bench, ctx, seeded } from './harness.js';
import { simulate, sharesBetween } from './pool-sim.js';

const sample = (name: string, active: number, latencyMs: number, recent = NaN): AdaptiveSample => ({
  name,
  weight: 1,
  active,
  latencyMs,
  recent,
});
const alike = [sample('b1', 3, 2), sample('b2', 3, 2.2)];
const slowOne = [sample('b1', 3, 2), sample('b2', 3, 40)];
const piledUp = [sample('b1', 30, 2), sample('b2', 2, 2)];

test('policy: a slow backend -> least_response_time, with the reason', () => {
  const r = recommend(slowOne, 'weighted_round_robin');
  assert.equal(r.strategy, 'least_response_time');
  assert.match(r.reason, /latency spread x20\.0: b2 is slowest, b1 fastest/);
  assert.equal(r.urgent, false);
});

test('policy: piled-up connections -> least_connections; alike -> weighted_round_robin', () => {
  assert.equal(recommend(piledUp, 'weighted_round_robin').strategy, 'least_connections');
  assert.match(recommend(piledUp, 'weighted_round_robin').reason, /load imbalance: cv 0\.88/);
  assert.equal(recommend(alike, 'least_response_time').strategy, 'weighted_round_robin');
  assert.equal(loadCv(alike), 0);
});

test('policy: a backend with no fresh latency is unknown, not slow', () => {
  // b2 was slow, then got no traffic: its estimate is stale and passed as 0
  const stale = [sample('b1', 1, 2), sample('b2', 0, 0), sample('b3', 1, 2.1)];
  const r = recommend(stale, 'least_response_time');
  assert.equal(r.strategy, 'weighted_round_robin');
  assert.match(r.reason, /backends alike/);
  assert.deepEqual([...slowerBackends(stale)], []);
  assert.deepEqual([...slowerBackends(slowOne)], ['b2']);
});

test('policy: with no fresh latency at all (an idle pool) the strategy in use stays', () => {
  const idle = [sample('b1', 0, 0), sample('b2', 0, 0), sample('b3', 0, 0)];
  for (const current of ['least_response_time', 'weighted_round_robin', 'least_connections'] as const) {
    const r = recommend(idle, current);
    assert.equal(r.strategy, current);
    assert.match(r.reason, /no fresh latency/);
  }
});

test('policy: hysteresis bands keep the strategy in use near its threshold', () => {
  const near = [sample('b1', 1, 10), sample('b2', 1, 17)];
  assert.equal(recommend(near, 'least_response_time').strategy, 'least_response_time');
  assert.equal(recommend(near, 'weighted_round_robin').strategy, 'weighted_round_robin');
  // least_connections stays while the pool is loaded, though it has evened the load out
  const evened = piledUp.map((s) => ({ ...s, active: 16 }));
  assert.equal(recommend(evened, 'least_connections').strategy, 'least_connections');
  assert.equal(recommend(evened, 'weighted_round_robin').strategy, 'weighted_round_robin');
});

test('policy: under least_response_time, alike backends loaded unevenly -> weighted_round_robin at once', () => {
  // b1 is slow and avoided on purpose; b2 and b3 are alike and must share
  const starved = [sample('b1', 0, 80, 2), sample('b2', 2, 2, 118), sample('b3', 0, 2.1, 3)];
  const r = recommend(starved, 'least_response_time');
  assert.equal(r.strategy, 'weighted_round_robin');
  assert.equal(r.urgent, true);
  assert.match(
    r.reason,
    /alike backends unevenly loaded under least_response_time: new connections cv 0\.95 \(b2=118 b3=3\)/,
  );
  // evenly shared between the alike ones: the slow one's small share is no imbalance
  const shared = [sample('b1', 0, 80, 2), sample('b2', 1, 2, 60), sample('b3', 1, 2.1, 58)];
  assert.equal(recommend(shared, 'least_response_time').strategy, 'least_response_time');
  // too few connections to judge
  const few = [sample('b1', 0, 80, 0), sample('b2', 0, 2, 9), sample('b3', 0, 2.1, 1)];
  assert.equal(recommend(few, 'least_response_time').strategy, 'least_response_time');
});

test('controller: switches only after `confirm` agreeing windows and `minDwell`, and keeps the reason', () => {
  const b = bench('adaptive', [1, 1]);
  const c = new AdaptiveController(b.table, { window: 1000, confirm: 2, minDwell: 5000 });
  const backends = (list: AdaptiveSample[]): AdaptiveBackend[] => list.map((s) => ({ ...s, connections: 0 }));
  const pool = (list: AdaptiveSample[]) => [{ name: 'web', slot: 0, samples: backends(list) }];
  assert.deepEqual(c.evaluate(pool(slowOne), 0), []);
  assert.equal(ALGORITHMS[b.table.pools.adaptiveCurrent(0)], 'least_connections', 'starts on the default');
  assert.match(c.reason('web')!, /starts on least_connections/);
  assert.deepEqual(c.evaluate(pool(slowOne), 1000), [], 'first agreeing window');
  assert.deepEqual(c.evaluate(pool(slowOne), 2000), [], 'confirmed, but dwell not over');
  assert.deepEqual(c.evaluate(pool(slowOne), 2500), [], 'not a new window');
  const s = c.evaluate(pool(slowOne), 5000);
  assert.equal(s.length, 1);
  assert.equal(s[0]!.from, 'least_connections');
  assert.equal(s[0]!.to, 'least_response_time');
  assert.equal(ALGORITHMS[b.table.pools.adaptiveCurrent(0)], 'least_response_time');
  assert.equal(b.table.pools.adaptiveSwitches(0), 1);
  assert.match(c.reason('web')!, /latency spread x20\.0/);
  // one window of a different answer, then back: no switch (the streak restarts)
  assert.deepEqual(c.evaluate(pool(alike), 11_000), []);
  assert.match(c.reason('web')!, /latency spread/, 'the reason is the strategy in use, not a candidate');
  assert.deepEqual(c.evaluate(pool(slowOne), 12_000), []);
  assert.deepEqual(c.evaluate(pool(alike), 13_000), []);
  assert.equal(c.evaluate(pool(alike), 14_000).length, 1);
  assert.equal(ALGORITHMS[b.table.pools.adaptiveCurrent(0)], 'weighted_round_robin');
  assert.match(c.reason('web')!, /backends alike/);
  assert.equal(c.reason('other'), null);
});

test('the worker-side adaptive balancer follows the strategy in the pool slot', () => {
  const b = bench('adaptive', [3, 1]);
  b.table.pools.setAdaptiveCurrent(0, ALGORITHMS.indexOf('weighted_round_robin'));
  assert.deepEqual([...b.run(400).values()], [300, 100]);
  b.table.pools.setAdaptiveCurrent(0, ALGORITHMS.indexOf('round_robin'));
  assert.deepEqual([...b.run(400).values()], [200, 200]);
  assert.notEqual(b.balancer.pick(ctx({ avoid: [0] })), 0);
});

test('the whole loop: a backend slows down, adaptive moves to least_response_time, and comes back within a few windows of its recovery', () => {
  const b = bench('adaptive', [1, 1, 1]);
  const random = seeded(11);
  const window = 1000;
  const c = new AdaptiveController(b.table, { window, confirm: 2, minDwell: 5000 });
  // the controller's own view, on its own clock, as the service keeps it
  const estimates = new LatencyEstimates(b.table, [0, 1, 2], { refreshMs: 0 });
  const strategyAt: { time: number; strategy: string }[] = [];
  const onTick = (now: number): void => {
    estimates.refresh(now);
    const samples: AdaptiveBackend[] = b.members.map((m, i) => ({
      name: m.key.slice(4),
      weight: 1,
      active: b.table.backends.active(m.slot),
      latencyMs: estimates.age(i, now) <= 3000 ? estimates.value(i) : 0,
      connections: b.table.backendStats.counters(m.slot).connections,
    }));
    c.evaluate([{ name: 'web', slot: 0, samples }], now);
    strategyAt.push({ time: now, strategy: ALGORITHMS[b.table.pools.adaptiveCurrent(0)]! });
  };
  // b1 answers in 80 ms from 20 s to 50 s; everyone in about 1 ms otherwise
  const slow = (slot: number, now: number): boolean => slot === 0 && now >= 20_000 && now < 50_000;
  const picks = simulate(b, {
    clients: 4,
    durationMs: 90_000,
    thinkMs: 100,
    random,
    onTick,
    latency: (slot, now) => (slow(slot, now) ? 80 : 1) * (0.7 + 0.6 * random()),
  });
  const strategy = (t: number): string => strategyAt.find((s) => s.time >= t)!.strategy;
  assert.equal(strategy(19_000), 'weighted_round_robin', 'alike backends: weighted_round_robin');
  const toLrt = strategyAt.find((s) => s.time >= 20_000 && s.strategy === 'least_response_time')!;
  // a few ticks for the estimate to see 80x (a batch counts at most 4x), then `confirm` windows
  assert.ok(toLrt.time <= 25_000, `switched to least_response_time at ${toLrt.time} ms`);
  const back = strategyAt.find((s) => s.time >= 50_000 && s.strategy !== 'least_response_time')!;
  assert.equal(back.strategy, 'weighted_round_robin');
  // a few windows: the estimates see the recovery (a probe or two), then `confirm` windows
  assert.ok(back.time <= 50_000 + 6 * window, `back to weighted_round_robin at ${back.time} ms`);
  assert.equal(strategy(89_000), 'weighted_round_robin');
  // while b1 was slow, b2 and b3 shared evenly; once back, all three do
  const during = sharesBetween(b, picks, toLrt.time, 50_000);
  const b2 = during.get('web/b2')! / (during.get('web/b2')! + during.get('web/b3')!);
  assert.ok(Math.abs(b2 - 0.5) < 0.06, `b2/b3 while b1 was slow: ${JSON.stringify([...during])}`);
  assert.ok(during.get('web/b1')! / [...during.values()].reduce((a, x) => a + x, 0) < 0.05);
  const after = sharesBetween(b, picks, back.time, 90_000);
  const total = [...after.values()].reduce((a, x) => a + x, 0);
  for (const [k, n] of after) assert.ok(Math.abs(n / total - 1 / 3) < 0.04, `${k}: ${n} of ${total} after`);
});
