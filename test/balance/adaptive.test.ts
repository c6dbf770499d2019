// Adaptive: the policy's choices, the controller's hysteresis on a fake clock, and
// the worker-side balancer following the pool slot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recommend, loadCv, type AdaptiveSample } from '../../daemon/control/adaptive/policy.js';
import { AdaptiveController } from '../../daemon/control/adaptive/controller.js';
import { ALGORITHMS } from '../../daemon/config/schema.js';
import { bench, ctx } from './harness.js';

const alike: AdaptiveSample[] = [
  { name: 'b1', weight: 1, active: 3, latencyMs: 2 },
  { name: 'b2', weight: 1, active: 3, latencyMs: 2.2 },
];
const slowOne: AdaptiveSample[] = [
  { name: 'b1', weight: 1, active: 3, latencyMs: 2 },
  { name: 'b2', weight: 1, active: 3, latencyMs: 40 },
];
const piledUp: AdaptiveSample[] = [
  { name: 'b1', weight: 1, active: 30, latencyMs: 2 },
  { name: 'b2', weight: 1, active: 2, latencyMs: 2 },
];

test('policy: a slow backend -> least_response_time, with the reason', () => {
  const r = recommend(slowOne, 'weighted_round_robin');
  assert.equal(r.strategy, 'least_response_time');
  assert.match(r.reason, /latency spread x20\.0: b2 is slowest, b1 fastest/);
});

test('policy: piled-up connections -> least_connections; alike -> weighted_round_robin', () => {
  assert.equal(recommend(piledUp, 'weighted_round_robin').strategy, 'least_connections');
  assert.match(recommend(piledUp, 'weighted_round_robin').reason, /load imbalance: cv 0\.88/);
  assert.equal(recommend(alike, 'least_response_time').strategy, 'weighted_round_robin');
  assert.equal(loadCv(alike), 0);
});

test('policy: hysteresis bands keep the strategy in use near its threshold', () => {
  const near: AdaptiveSample[] = [
    { name: 'b1', weight: 1, active: 1, latencyMs: 10 },
    { name: 'b2', weight: 1, active: 1, latencyMs: 17 },
  ];
  assert.equal(recommend(near, 'least_response_time').strategy, 'least_response_time');
  assert.equal(recommend(near, 'weighted_round_robin').strategy, 'weighted_round_robin');
  // least_connections stays while the pool is loaded, though it has evened the load out
  const evened = piledUp.map((s) => ({ ...s, active: 16 }));
  assert.equal(recommend(evened, 'least_connections').strategy, 'least_connections');
  assert.equal(recommend(evened, 'weighted_round_robin').strategy, 'weighted_round_robin');
});

test('controller: switches only after `confirm` agreeing windows and `minDwell`, and counts switches', () => {
  const b = bench('adaptive', [1, 1]);
  const c = new AdaptiveController(b.table, { window: 1000, confirm: 2, minDwell: 5000 });
  const pool = (samples: AdaptiveSample[]) => [{ name: 'web', slot: 0, samples }];
  assert.deepEqual(c.evaluate(pool(slowOne), 0), []);
  assert.equal(ALGORITHMS[b.table.pools.adaptiveCurrent(0)], 'least_connections', 'starts on the default');
  assert.deepEqual(c.evaluate(pool(slowOne), 1000), [], 'first agreeing window');
  assert.deepEqual(c.evaluate(pool(slowOne), 2000), [], 'confirmed, but dwell not over');
  assert.deepEqual(c.evaluate(pool(slowOne), 2500), [], 'not a new window');
  const s = c.evaluate(pool(slowOne), 5000);
  assert.equal(s.length, 1);
  assert.equal(s[0]!.from, 'least_connections');
  assert.equal(s[0]!.to, 'least_response_time');
  assert.equal(ALGORITHMS[b.table.pools.adaptiveCurrent(0)], 'least_response_time');
  assert.equal(b.table.pools.adaptiveSwitches(0), 1);
  // one window of a different answer, then back: no switch (the streak restarts)
  assert.deepEqual(c.evaluate(pool(alike), 11_000), []);
  assert.deepEqual(c.evaluate(pool(slowOne), 12_000), []);
  assert.deepEqual(c.evaluate(pool(alike), 13_000), []);
  assert.equal(c.evaluate(pool(alike), 14_000).length, 1);
  assert.equal(ALGORITHMS[b.table.pools.adaptiveCurrent(0)], 'weighted_round_robin');
});

test('the worker-side adaptive balancer follows the strategy in the pool slot', () => {
  const b = bench('adaptive', [3, 1]);
  b.table.pools.setAdaptiveCurrent(0, ALGORITHMS.indexOf('weighted_round_robin'));
  assert.deepEqual([...b.run(400).values()], [300, 100]);
  b.table.pools.setAdaptiveCurrent(0, ALGORITHMS.indexOf('round_robin'));
  assert.deepEqual([...b.run(400).values()], [200, 200]);
  assert.notEqual(b.balancer.pick(ctx({ avoid: [0] })), 0);
});
