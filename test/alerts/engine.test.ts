// The alert state machine on a fake clock: pending, firing after alerts.for,
// resolved, and one transition reported per change.
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

function engine(): { e: AlertEngine; seen: AlertSnapshot[] } {
  const seen: AlertSnapshot[] = [];
  return { e: new AlertEngine((a) => seen.push(a)), seen };
}

test('a condition is pending, fires once it has held for alerts.for, and resolves when it clears', () => {
  const { e, seen } = engine();
  e.update([latency(250)], 10_000, 1000);
  assert.deepEqual(
    seen.map((a) => a.state),
    ['pending'],
  );
  e.update([latency(260)], 10_000, 6000);
  assert.equal(seen.length, 1, 'still pending: no new transition');
  assert.equal(e.list()[0]!.value, 260, 'value follows the latest evaluation');
  e.update([latency(270)], 10_000, 11_000);
  assert.deepEqual(
    seen.map((a) => [a.state, a.since, a.firedAt]),
    [
      ['pending', 1000, null],
      ['firing', 1000, 11_000],
    ],
  );
  e.update([latency(280)], 10_000, 12_000);
  assert.equal(seen.length, 2, 'firing stays firing without a new transition');
  e.update([], 10_000, 15_000);
  assert.deepEqual([seen[2]!.state, seen[2]!.resolvedAt, seen[2]!.firedAt], ['resolved', 15_000, 11_000]);
  assert.deepEqual(
    e.list().map((a) => a.state),
    ['resolved'],
  );
  e.update([], 10_000, 15_000 + RESOLVED_KEEP_MS);
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
  e.update([down, latency(300)], 10_000, 0);
  assert.deepEqual(
    seen.map((a) => `${a.name}:${a.state}`),
    ['backend_down:firing', 'high_latency:pending'],
  );
  assert.deepEqual(
    e.list().map((a) => `${a.name}:${a.state}`),
    ['backend_down:firing', 'high_latency:pending'],
  );
  e.update([down], 10_000, 2000);
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
  e.update([latency(300)], 0, 0);
  e.update([], 0, 1000);
  e.update([latency(310)], 0, 2000);
  assert.deepEqual(
    seen.map((a) => a.state),
    ['firing', 'resolved', 'firing'],
  );
  const list = e.list();
  assert.equal(list.length, 1);
  assert.equal(list[0]!.since, 2000);
});
