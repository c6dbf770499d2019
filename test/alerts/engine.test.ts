// The alert state machine on a fake clock: pending, firing after alerts.for,
// resolved (at once, or after keep_firing_for), and one transition reported per
// change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlertEngine, RESOLVED_KEEP_MS } from '../../daemon/control/alerts/engine.js';
import type { Condition } from '../../daemon/control/alerts/condition.js';
import type { AlertSnapshot } from '../../daemon/control/snapshot/snapshot.js';

const latency = (value: number): Condition => ({
  name: 'high_latency',
  subject: 'web/b1',
  severity: 'warning',
  value,
  threshold: 200,
  message: `p95 ${value} ms`,
});

/** No hold: an alert resolves on the first evaluation without its condition. */
const FOR_10S = { forMs: 10_000, keepFiringForMs: 0 };
const FOR_0 = { forMs: 0, keepFiringForMs: 0 };

function engine(): { e: AlertEngine; seen: AlertSnapshot[] } {
  const seen: AlertSnapshot[] = [];
  return { e: new AlertEngine((a) => seen.push(a)), seen };
}

test('a condition is pending, fires once it has held for alerts.for, and resolves when it clears', () => {
  const { e, seen } = engine();
  e.update([latency(250)], FOR_10S, 1000);
  assert.deepEqual(
    seen.map((a) => a.state),
    ['pending'],
  );
  e.update([latency(260)], FOR_10S, 6000);
  assert.equal(seen.length, 1, 'still pending: no new transition');
  assert.equal(e.list()[0]!.value, 260, 'value follows the latest evaluation');
  e.update([latency(270)], FOR_10S, 11_000);
  assert.deepEqual(
    seen.map((a) => [a.state, a.since, a.firedAt]),
    [
      ['pending', 1000, null],
      ['firing', 1000, 11_000],
    ],
  );
  e.update([latency(280)], FOR_10S, 12_000);
  assert.equal(seen.length, 2, 'firing stays firing without a new transition');
  e.update([], FOR_10S, 15_000);
  assert.deepEqual([seen[2]!.state, seen[2]!.resolvedAt, seen[2]!.firedAt], ['resolved', 15_000, 11_000]);
  assert.deepEqual(
    e.list().map((a) => a.state),
    ['resolved'],
  );
  e.update([], FOR_10S, 15_000 + RESOLVED_KEEP_MS);
  assert.equal(e.list().length, 0, 'resolved alerts are forgotten after a while');
});

test('an immediate condition fires at once; a pending one that clears is reported but not listed', () => {
  const { e, seen } = engine();
  const down: Condition = {
    name: 'backend_down',
    subject: 'web/b2',
    severity: 'critical',
    value: 1,
    threshold: 0,
    message: 'down',
    immediate: true,
  };
  e.update([down, latency(300)], FOR_10S, 0);
  assert.deepEqual(
    seen.map((a) => `${a.name}:${a.state}`),
    ['backend_down:firing', 'high_latency:pending'],
  );
  assert.deepEqual(
    e.list().map((a) => `${a.name}:${a.state}`),
    ['backend_down:firing', 'high_latency:pending'],
  );
  e.update([down], FOR_10S, 2000);
  assert.equal(seen[2]!.name, 'high_latency');
  assert.equal(seen[2]!.state, 'resolved');
  assert.equal(seen[2]!.firedAt, null);
  assert.deepEqual(
    e.list().map((a) => `${a.name}:${a.state}`),
    ['backend_down:firing'],
  );
});

test('for = 0 fires on the first evaluation; a condition that returns replaces its resolved alert', () => {
  const { e, seen } = engine();
  e.update([latency(300)], FOR_0, 0);
  e.update([], FOR_0, 1000);
  e.update([latency(310)], FOR_0, 2000);
  assert.deepEqual(
    seen.map((a) => a.state),
    ['firing', 'resolved', 'firing'],
  );
  const list = e.list();
  assert.equal(list.length, 1);
  assert.equal(list[0]!.since, 2000);
});

test('keep_firing_for: a flickering condition fires once and resolves once, after it has been gone for the hold', () => {
  const { e, seen } = engine();
  const timing = { forMs: 10_000, keepFiringForMs: 30_000 };
  // present two evaluations in three, for a minute
  for (let t = 0; t <= 60_000; t += 1000) e.update(t % 3000 === 2000 ? [] : [latency(250)], timing, t);
  assert.deepEqual(
    seen.map((a) => [a.state, a.since, a.firedAt]),
    [
      ['pending', 0, null],
      ['firing', 0, 10_000],
    ],
  );
  // gone: still firing through the hold, resolved when it is over
  for (let t = 61_000; t < 91_000; t += 1000) e.update([], timing, t);
  assert.equal(seen.length, 2);
  assert.equal(e.list()[0]!.state, 'firing');
  e.update([], timing, 91_000);
  assert.deepEqual([seen[2]!.state, seen[2]!.resolvedAt], ['resolved', 91_000]);
});

test('keep_firing_for: a pending alert waits out the hold too, and cannot fire while its condition is gone', () => {
  const { e, seen } = engine();
  const timing = { forMs: 10_000, keepFiringForMs: 5000 };
  e.update([latency(250)], timing, 0);
  e.update([], timing, 11_000);
  assert.equal(seen.length, 1, 'gone at the time it would fire: no transition');
  e.update([latency(250)], timing, 12_000);
  assert.deepEqual(
    seen.map((a) => [a.state, a.since, a.firedAt]),
    [
      ['pending', 0, null],
      ['firing', 0, 12_000],
    ],
    'back within the hold: it carries on from its first evaluation',
  );
  const { e: e2, seen: seen2 } = engine();
  e2.update([latency(250)], timing, 0);
  e2.update([], timing, 1000);
  e2.update([], timing, 6000);
  assert.deepEqual(
    seen2.map((a) => a.state),
    ['pending', 'resolved'],
  );
  assert.deepEqual(e2.list(), [], 'a pending alert that never fired is not listed');
});

test('keep_firing_for does not hold backend_down: health already held it', () => {
  const { e, seen } = engine();
  const down: Condition = {
    name: 'backend_down',
    subject: 'web/b2',
    severity: 'critical',
    value: 1,
    threshold: 0,
    message: 'down',
    immediate: true,
  };
  const timing = { forMs: 10_000, keepFiringForMs: 30_000 };
  e.update([down], timing, 0);
  e.update([], timing, 1000);
  assert.deepEqual(
    seen.map((a) => a.state),
    ['firing', 'resolved'],
  );
});
