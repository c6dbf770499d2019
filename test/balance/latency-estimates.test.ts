// The aging response-time estimate on an injected clock: samples go into the
// table's histograms as the relay records them; the estimate reads what arrived
// since its last look.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, OpState } from '../../daemon/state/names.js';
import { LatencyEstimates } from '../../daemon/data/balance/latency-estimates.js';
import { bench, type Bench } from './harness.js';

function sample(b: Bench, slot: number, connectMs: number, firstByteMs?: number): void {
  b.table.backendStats.observe(0, slot, Histogram.Connect, connectMs / 1000);
  if (firstByteMs !== undefined) b.table.backendStats.observe(0, slot, Histogram.FirstByte, firstByteMs / 1000);
}

const near = (a: number, b: number, what: string): void =>
  assert.ok(Math.abs(a - b) < 1e-6 * Math.max(1, b), `${what}: ${a} vs ${b}`);

test('the first look is a baseline; samples after it make the estimate', () => {
  const b = bench('round_robin', [1, 1]);
  sample(b, 0, 50, 100); // before the first look: when, nobody knows
  const e = new LatencyEstimates(b.table, [0, 1], { decayMs: 1000, recoverMs: 250, refreshMs: 100 });
  e.refresh(0);
  assert.ok(Number.isNaN(e.value(0)));
  assert.equal(e.freshness(0, 0), 0);
  assert.equal(e.age(0, 0), Infinity);
  sample(b, 0, 1, 3);
  sample(b, 0, 3, 5);
  e.refresh(50);
  assert.ok(Number.isNaN(e.value(0)), 'not before refreshMs');
  e.refresh(200);
  near(e.value(0), 2 + 4, 'connect mean + first-byte mean');
  assert.equal(e.age(0, 200), 100, 'taken half way between the looks');
  sample(b, 1, 2);
  e.refresh(300);
  near(e.value(1), 2, 'connect alone when no first byte came');
});

test('slower samples move the estimate with `decay`, faster ones with `recover`, geometrically', () => {
  const b = bench('round_robin', [1]);
  const e = new LatencyEstimates(b.table, [0], { decayMs: 1000, recoverMs: 250, refreshMs: 0 });
  e.refresh(0);
  sample(b, 0, 10);
  e.refresh(100); // at 50
  sample(b, 0, 40);
  e.refresh(1100); // at 600, 550 ms after the last
  const w = Math.exp(-550 / 1000);
  near(e.value(0), Math.exp(w * Math.log(10) + (1 - w) * Math.log(40)), 'slower');
  const before = e.value(0);
  sample(b, 0, 1);
  e.refresh(1300); // at 1200, 600 ms after the last
  const v = Math.exp(-600 / 250);
  near(e.value(0), Math.exp(v * Math.log(before) + (1 - v) * Math.log(1)), 'faster');
});

test('an estimate ages: freshness falls with the time since its last sample; a long-silent one is replaced', () => {
  const b = bench('round_robin', [1]);
  const e = new LatencyEstimates(b.table, [0], { decayMs: 1000, recoverMs: 500, refreshMs: 0 });
  e.refresh(0);
  sample(b, 0, 50);
  e.refresh(200); // sampled at 100
  near(e.freshness(0, 100), 1, 'just in');
  near(e.freshness(0, 1100), Math.exp(-1), 'one decay later');
  assert.ok(e.freshness(0, 10_100) < 1e-4);
  // ten seconds without a sample, then one: it is the estimate, near enough
  sample(b, 0, 1);
  e.refresh(10_200);
  assert.ok(e.value(0) < 1.001, `${e.value(0)}`);
});

test('a slot claimed by another backend is forgotten', () => {
  const b = bench('round_robin', [1]);
  const e = new LatencyEstimates(b.table, [0], { refreshMs: 0 });
  e.refresh(0);
  sample(b, 0, 30);
  sample(b, 0, 30);
  e.refresh(100);
  near(e.value(0), 30, 'known');
  // the topology gives the slot to a new backend: its counters start from zero
  b.table.backends.init(0, { pool: 0, weight: 1, maxConnections: 0, backup: false, generation: 2, op: OpState.Up }, 0);
  sample(b, 0, 2);
  e.refresh(200);
  assert.ok(Number.isNaN(e.value(0)), 'the old backend is forgotten, the new one starts from its next look');
  sample(b, 0, 2);
  e.refresh(300);
  near(e.value(0), 2, 'the new one');
  assert.equal(e.indexOf(0), 0);
  assert.equal(e.indexOf(7), -1);
});
