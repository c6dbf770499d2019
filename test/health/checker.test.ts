import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setLogSink } from '../../daemon/log.js';
import { CheckResult, OpState, Cause } from '../../daemon/state/names.js';
import { Harness, fail, ok, silence, tcpCheck } from './harness.js';

test('an up backend goes down after exactly `fall` consecutive failures, and up after `rise` successes', async () => {
  const h = new Harness();
  h.fallback = fail;
  const b = h.backend(0, { check: tcpCheck({ rise: 2, fall: 3 }) });
  h.watch(b);
  await h.clock.advance(1000); // first probe lands within the first interval
  assert.equal(h.callsOf(0).length, 1);
  assert.equal(h.table.backends.healthCount(0), -1);
  await h.clock.advance(1100);
  assert.equal(h.callsOf(0).length, 2);
  assert.equal(h.table.backends.opState(0), OpState.Up, 'two failures of three: still up');
  assert.equal(h.table.backends.healthCount(0), -2);
  await h.clock.advance(1100);
  assert.equal(h.table.backends.opState(0), OpState.Down);
  assert.equal(h.table.backends.lastCause(0), Cause.Health);
  assert.equal(h.table.backends.healthCount(0), 0);
  assert.deepEqual(
    h.events.map((e) => [e.key, e.from, e.to, e.cause, e.detail]),
    [['web/b0', 'up', 'down', 'health', 'connection refused (ECONNREFUSED)']],
  );
  assert.equal(h.events[0]!.time, h.callsOf(0)[2]!.time, 'the transition is stamped with the probe that caused it');

  h.fallback = ok;
  await h.clock.advance(1100);
  assert.equal(h.table.backends.opState(0), OpState.Down, 'one success of two: still down');
  assert.equal(h.table.backends.healthCount(0), 1);
  await h.clock.advance(1100);
  assert.equal(h.table.backends.opState(0), OpState.Up);
  assert.equal(h.events.at(-1)!.to, 'up');
  assert.equal(h.events.length, 2);
  h.checker.stop();
});

test('a success between failures resets the fall count (they must be consecutive)', async () => {
  const h = new Harness();
  h.fallback = 'hold';
  h.answer(0, fail, fail, ok, fail, fail, ok, fail, fail, fail);
  h.watch(h.backend(0));
  await h.clock.advance(500 + 8 * 1000); // random() = 0.5: first at 500, then every 1000
  assert.equal(h.callsOf(0).length, 9);
  assert.equal(h.events.length, 1, 'only the three in a row took it down');
  assert.equal(h.events[0]!.to, 'down');
  h.checker.stop();
});

test('first probe falls within the first interval, later ones interval ± 10%', async () => {
  const h = new Harness();
  h.randoms = [0.999, 0, 0.999, 0.5, 0, 1 - 1e-9];
  h.watch(h.backend(0, { check: tcpCheck({ interval: 2000 }) }));
  const t0 = h.clock.now();
  await h.clock.advance(2000 * 6);
  const times = h.callsOf(0).map((c) => c.time - t0);
  assert.ok(times[0]! >= 0 && times[0]! < 2000, `first at ${times[0]}`);
  assert.ok(Math.abs(times[0]! - 1998) < 1, 'random() 0.999 spreads it late in the interval');
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  assert.ok(gaps.length >= 4);
  for (const g of gaps) assert.ok(g >= 1800 && g <= 2200, `gap ${g}`);
  assert.equal(gaps[0], 1800);
  assert.ok(Math.abs(gaps[1]! - 2200) < 1);
  assert.equal(gaps[2], 2000);
  h.checker.stop();
});

test('many backends get their first probes spread over the interval, not all at once', async () => {
  const h = new Harness();
  h.randoms = Array.from({ length: 10 }, (_, i) => i / 10);
  const t0 = h.clock.now();
  h.watch(...Array.from({ length: 10 }, (_, i) => h.backend(i)));
  await h.clock.advance(999);
  const firsts = Array.from({ length: 10 }, (_, i) => h.callsOf(i)[0]!.time - t0);
  assert.deepEqual(firsts, [0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
  h.checker.stop();
});

test('a slow probe is never overlapped by the next one', async () => {
  const h = new Harness();
  h.fallback = 'hold';
  h.watch(h.backend(0, { check: tcpCheck({ interval: 1000, timeout: 5000 }) }));
  await h.clock.advance(1000);
  assert.equal(h.calls.length, 1);
  await h.clock.advance(10_000);
  assert.equal(h.calls.length, 1, 'no second probe while the first is in flight');
  assert.equal(h.checker.status(0)!.probing, true);
  h.calls[0]!.resolve(ok);
  // the period has long passed: the next probe starts right away
  await h.clock.advance(0);
  assert.equal(h.calls.length, 2);
  assert.equal(h.calls[1]!.time, h.clock.now());
  h.checker.stop();
});

test('probe results are written to the table: check result, duration, agent data (NaN when missing)', async () => {
  const h = new Harness();
  h.fallback = 'hold';
  h.answer(0, { ok: true, durationMs: 12, detail: 'HTTP 200', agent: { cpu: 30, connections: 4 } });
  h.answer(0, { ok: false, durationMs: 500, detail: 'timeout after 500 ms (response)' });
  h.watch(h.backend(0));
  const fresh = h.table.backends.agent(0);
  assert.ok(Number.isNaN(fresh.cpu) && Number.isNaN(fresh.memory) && Number.isNaN(fresh.connections));
  await h.clock.advance(1000);
  assert.deepEqual(h.table.backends.lastCheck(0), { result: CheckResult.Ok, durationMs: 12, time: h.calls[0]!.time });
  const a = h.table.backends.agent(0);
  assert.equal(a.cpu, 30);
  assert.ok(Number.isNaN(a.memory));
  assert.equal(a.connections, 4);
  assert.equal(h.checker.checkDetail(0), 'HTTP 200');
  await h.clock.advance(1100);
  assert.equal(h.table.backends.lastCheck(0).result, CheckResult.Failed);
  assert.ok(Number.isNaN(h.table.backends.agent(0).cpu), 'a failed probe clears stale agent data');
  assert.equal(h.checker.checkDetail(0), 'timeout after 500 ms (response)');
  assert.deepEqual(
    { probes: h.checker.counters().probes, failures: h.checker.counters().probeFailures },
    { probes: 2, failures: 1 },
  );
  h.checker.stop();
});

test('a probe that throws or rejects counts as a failure', async () => {
  const h = new Harness({
    probe: (target) => {
      if (target.port === 10000) throw new Error('boom');
      return Promise.reject(new Error('bad'));
    },
  });
  h.watch(h.backend(0, { check: tcpCheck({ fall: 1 }) }), h.backend(1, { check: tcpCheck({ fall: 1 }) }));
  await h.clock.advance(1000);
  assert.equal(h.table.backends.opState(0), OpState.Down);
  assert.equal(h.table.backends.opState(1), OpState.Down);
  assert.equal(h.checker.checkDetail(0), 'boom');
  h.checker.stop();
});

test('reload with the same check keeps timers and counters; a changed check restarts them', async () => {
  const h = new Harness();
  h.fallback = fail;
  const b = h.backend(0, { check: tcpCheck({ fall: 3 }) });
  h.watch(b);
  await h.clock.advance(1000 + 1100);
  assert.equal(h.table.backends.healthCount(0), -2);
  const pending = h.clock.pending();
  const nextBefore = h.calls.length;
  // same check, new object (as a reload produces): nothing restarts
  h.watch({ ...b, check: tcpCheck({ fall: 3 }) });
  assert.equal(h.clock.pending(), pending);
  assert.equal(h.table.backends.healthCount(0), -2);
  await h.clock.advance(1100);
  assert.equal(h.calls.length, nextBefore + 1);
  assert.equal(
    h.table.backends.opState(0),
    OpState.Down,
    'the third failure counted on top of the two before the reload',
  );
  assert.equal(h.events.length, 1);

  // a changed check resets the count, keeps the state, and reprobes within one interval
  h.fallback = ok;
  await h.clock.advance(1100);
  assert.equal(h.table.backends.healthCount(0), 1);
  h.watch({ ...b, check: tcpCheck({ fall: 3, interval: 5000 }) });
  assert.equal(h.table.backends.healthCount(0), 0);
  assert.equal(h.table.backends.opState(0), OpState.Down);
  const n = h.calls.length;
  await h.clock.advance(5000);
  assert.equal(h.calls.length, n + 1);
  assert.equal(h.calls.at(-1)!.check.interval, 5000);
  h.checker.stop();
});

test('reload: a removed backend stops probing (in-flight probe aborted), a new one starts', async () => {
  const h = new Harness();
  h.fallback = 'hold';
  const b0 = h.backend(0);
  const b1 = h.backend(1);
  h.watch(b0, b1);
  await h.clock.advance(1000);
  assert.equal(h.calls.length, 2);
  const inflight = h.callsOf(0)[0]!;
  h.checker.unwatch(0);
  h.watch(b1, h.backend(2));
  assert.equal(inflight.signal.aborted, true);
  inflight.resolve(fail);
  h.fallback = ok;
  h.callsOf(1)[0]!.resolve(ok);
  await h.clock.advance(5000);
  assert.equal(h.callsOf(0).length, 1, 'removed backend is not probed again');
  assert.equal(h.checker.status(0), undefined);
  assert.equal(h.table.backends.lastCheck(0).result, CheckResult.None, 'its late result was ignored');
  assert.ok(h.callsOf(2).length >= 4);
  assert.ok(h.callsOf(1).length >= 4);
  // the slot reused by another backend (different key) starts fresh
  h.checker.unwatch(2);
  h.watch(h.backend(1, { key: 'web/other' }));
  assert.equal(h.checker.status(1)!.key, 'web/other');
  h.checker.unwatch(1);
  assert.equal(h.clock.pending(), 0, 'no timer left');
  h.checker.stop();
});

test('type none: never probed, a down backend is brought up', async () => {
  const h = new Harness();
  h.watch(h.backend(0, { check: { type: 'none' } }, OpState.Down));
  assert.equal(h.table.backends.opState(0), OpState.Up);
  assert.equal(h.events[0]!.cause, 'config');
  await h.clock.advance(60_000);
  assert.equal(h.calls.length, 0);
  assert.equal(h.clock.pending(), 0);
  h.checker.stop();
});

test('backends start up (optimistic); a failing first sequence takes them down after fall', async () => {
  const h = new Harness();
  h.fallback = fail;
  h.watch(h.backend(0, { check: tcpCheck({ fall: 2 }) }));
  assert.equal(h.table.backends.opState(0), OpState.Up);
  assert.ok(h.table.backends.eligible(0));
  await h.clock.advance(1000);
  assert.equal(h.table.backends.opState(0), OpState.Up);
  await h.clock.advance(1100);
  assert.equal(h.table.backends.opState(0), OpState.Down);
  h.checker.stop();
});

test('stop() clears every timer and aborts probes in flight', async () => {
  const h = new Harness();
  h.fallback = 'hold';
  h.watch(h.backend(0), h.backend(1, { slowStartMs: 5000 }, OpState.Down));
  await h.clock.advance(1000);
  h.checker.stop();
  assert.equal(h.clock.pending(), 0);
  assert.ok(h.calls.every((c) => c.signal.aborted));
  h.calls.forEach((c) => c.resolve(fail));
  await h.clock.advance(10_000);
  assert.equal(h.calls.length, 2);
  assert.equal(h.events.length, 0);
});

test('every transition is logged: info when up, warn when down', async () => {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  try {
    const h = new Harness();
    h.fallback = fail;
    h.watch(h.backend(0, { check: tcpCheck({ fall: 1, rise: 1 }) }));
    await h.clock.advance(1000);
    h.fallback = ok;
    await h.clock.advance(1100);
    h.checker.stop();
    const recs = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.msg === 'backend state');
    assert.deepEqual(
      recs.map((r) => [r.level, r.backend, r.from, r.to, r.cause]),
      [
        ['warn', 'web/b0', 'up', 'down', 'health'],
        ['info', 'web/b0', 'down', 'up', 'health'],
      ],
    );
  } finally {
    silence();
  }
});

test('a throwing transition listener does not stop health checking', async () => {
  const h = new Harness({
    onTransition: () => {
      throw new Error('listener bug');
    },
  });
  try {
    h.fallback = fail;
    h.watch(h.backend(0, { check: tcpCheck({ fall: 1, rise: 1 }) }));
    await h.clock.advance(1000);
    assert.equal(h.table.backends.opState(0), OpState.Down);
    h.fallback = ok;
    await h.clock.advance(1100);
    assert.equal(h.table.backends.opState(0), OpState.Up);
  } finally {
    h.checker.stop();
  }
});
