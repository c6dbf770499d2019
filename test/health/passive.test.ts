import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setLogSink } from '../../daemon/log.js';
import { passiveEjectionAllowed } from '../../daemon/control/health/passive.js';
import { Cause, OpState } from '../../daemon/state/names.js';
import { Harness, fail, ok, silence, tcpCheck } from './harness.js';

const passive = { consecutiveFailures: 5, maxEjectedShare: 0.5 };

test('passive cap arithmetic: at most the share, exactly at the boundary', () => {
  assert.equal(passiveEjectionAllowed(4, 0, 0.5), true);
  assert.equal(passiveEjectionAllowed(4, 1, 0.5), true);
  assert.equal(passiveEjectionAllowed(4, 2, 0.5), false);
  assert.equal(passiveEjectionAllowed(10, 2, 0.3), true, '3 of 10 is exactly 0.3');
  assert.equal(passiveEjectionAllowed(10, 3, 0.3), false);
  assert.equal(passiveEjectionAllowed(1, 0, 0.5), false, 'a lone backend is never ejected under a cap below 1');
  assert.equal(passiveEjectionAllowed(1, 0, 1), true);
});

test('connect failures reported by a worker eject a backend at once, up to the pool cap', async () => {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  try {
    const h = new Harness();
    h.fallback = 'hold'; // no probe result arrives during this test
    const list = [0, 1, 2, 3].map((i) => h.backend(i, { passive }));
    list.push(h.backend(4, { pool: 'other', passive }));
    h.watch(...list);
    for (let k = 0; k < 5; k++) h.table.backends.addConsecutiveFailure(0);

    assert.equal(h.checker.reportConnectFailures(0), 'ejected');
    assert.equal(h.table.backends.opState(0), OpState.Down);
    assert.equal(h.table.backends.lastCause(0), Cause.Passive);
    assert.equal(h.table.backends.consecutiveFailures(0), 0, 'the worker-side count starts over');
    assert.deepEqual(
      [h.events[0]!.to, h.events[0]!.cause, h.events[0]!.detail],
      ['down', 'passive', '5 consecutive connect failures'],
    );
    assert.equal(h.checker.status(0)!.passiveEjected, true);
    assert.equal(h.checker.reportConnectFailures(0), 'already_down');
    assert.equal(h.checker.reportConnectFailures(1), 'ejected');
    // 3 of 4 would exceed 0.5: refused, logged and counted
    assert.equal(h.checker.reportConnectFailures(2), 'capped');
    assert.equal(h.table.backends.opState(2), OpState.Up);
    assert.equal(h.checker.reportConnectFailures(2), 'capped');
    // the cap is per pool: the other pool has 1 backend, and 1/1 > 0.5
    assert.equal(h.checker.reportConnectFailures(4), 'capped');
    const c = h.checker.counters();
    assert.equal(c.passiveEjections, 2);
    assert.equal(c.passiveCapped, 3);
    assert.deepEqual(c.passiveCappedByPool, { web: 2, other: 1 });
    assert.deepEqual(
      [0, 1, 2, 4].map((slot) => h.checker.status(slot)!.passiveEjectionsRefused),
      [0, 0, 2, 1],
      'refusals are counted on the backend that stayed in',
    );
    assert.equal(h.checker.passiveEjectionsRefused(2), 2);
    const warns = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r.msg === 'passive ejection capped');
    assert.equal(warns.length, 3);
    assert.equal(warns[0]!.level, 'warn');
    assert.equal(warns[0]!.backend, 'web/b2');
    assert.equal(warns[0]!.ejected, 2);
    assert.equal(warns[0]!.poolSize, 4);
    assert.equal(h.checker.reportConnectFailures(9), 'unknown');
    h.checker.stop();
  } finally {
    silence();
  }
});

test('a backend down by health does not use up the passive share', () => {
  const h = new Harness();
  h.fallback = 'hold';
  h.watch(h.backend(0, { passive }, OpState.Down), h.backend(1, { passive }), h.backend(2, { passive }));
  assert.equal(h.checker.reportConnectFailures(1), 'ejected', '1 of 3 passive, 0.33 <= 0.5');
  assert.equal(h.checker.reportConnectFailures(2), 'capped');
  h.checker.stop();
});

test('a passively ejected backend comes back through the active rise path', async () => {
  const h = new Harness();
  h.fallback = 'hold';
  h.watch(h.backend(0, { passive: { consecutiveFailures: 3, maxEjectedShare: 1 }, check: tcpCheck({ rise: 3 }) }));
  assert.equal(h.checker.reportConnectFailures(0), 'ejected');
  h.fallback = ok;
  await h.clock.advance(500 + 1000); // two successes
  assert.equal(h.table.backends.opState(0), OpState.Down);
  assert.equal(h.table.backends.healthCount(0), 2);
  await h.clock.advance(1000);
  assert.equal(h.table.backends.opState(0), OpState.Up);
  assert.equal(h.events.at(-1)!.cause, 'health');
  assert.equal(h.checker.status(0)!.passiveEjected, false);
  // and the share is free again
  assert.equal(h.checker.reportConnectFailures(0), 'ejected');
  h.checker.stop();
});

test('without an active check, a passively ejected backend returns after the cool-down', async () => {
  const h = new Harness({ passiveCooldownMs: 10_000 });
  h.watch(h.backend(0, { check: { type: 'none' }, passive: { consecutiveFailures: 3, maxEjectedShare: 1 } }));
  assert.equal(h.checker.reportConnectFailures(0), 'ejected');
  await h.clock.advance(9_999);
  assert.equal(h.table.backends.opState(0), OpState.Down);
  await h.clock.advance(1);
  assert.equal(h.table.backends.opState(0), OpState.Up);
  assert.equal(h.table.backends.lastCause(0), Cause.Passive);
  assert.match(h.events.at(-1)!.detail, /cool-down/);
  assert.equal(h.calls.length, 0);
  assert.equal(h.clock.pending(), 0);
  h.checker.stop();
});

test('a failing probe after passive ejection keeps it down; the cool-down is not used with an active check', async () => {
  const h = new Harness({ passiveCooldownMs: 1000 });
  h.fallback = fail;
  h.watch(h.backend(0, { passive: { consecutiveFailures: 3, maxEjectedShare: 1 } }));
  h.checker.reportConnectFailures(0);
  await h.clock.advance(30_000);
  assert.equal(h.table.backends.opState(0), OpState.Down);
  assert.equal(h.events.length, 1);
  h.checker.stop();
});
