import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rampWeight } from '../../daemon/control/health/slow-start.js';
import { Cause, OpState } from '../../daemon/state/names.js';
import { Harness, fail, ok, tcpCheck } from './harness.js';

test('ramp weights: from ~10% (at least 1) to 100%', () => {
  assert.equal(rampWeight(100, 0), 10);
  assert.equal(rampWeight(100, 0.5), 55);
  assert.equal(rampWeight(100, 1), 100);
  assert.equal(rampWeight(3, 0), 1);
  assert.equal(rampWeight(1, 0.5), 1);
  assert.equal(rampWeight(256, 0.999), 256);
  let prev = 0;
  for (let f = 0; f <= 1; f += 0.01) {
    const w = rampWeight(37, f);
    assert.ok(w >= prev && w >= 1 && w <= 37);
    prev = w;
  }
});

/** `set weight`: the topology writes the configured weight, then slow start follows it. */
function setWeight(h: Harness, slot: number, weight: number): void {
  h.table.backends.setConfiguredWeight(slot, weight);
  h.checker.weightChanged(slot);
}

/** One backend that is down, recovers on the first probe, with slow start. */
async function recovering(slowStartMs: number, weight = 100) {
  const h = new Harness();
  h.fallback = ok;
  h.randoms = [0]; // first probe at once
  h.watch(h.backend(0, { slowStartMs, check: tcpCheck({ rise: 1, interval: 60_000 }) }, OpState.Down, weight));
  await h.clock.advance(0);
  return h;
}

test('a recovered backend goes Starting and its effective weight ramps to Up over slow_start', async () => {
  const h = await recovering(10_000);
  const t0 = h.clock.now();
  assert.equal(h.table.backends.opState(0), OpState.Starting);
  assert.equal(h.table.backends.slowStartBegin(0), t0);
  assert.ok(h.table.backends.eligible(0), 'a starting backend takes traffic');
  assert.equal(h.table.backends.effectiveWeight(0), 10);
  assert.equal(h.table.backends.weight(0), 100);
  assert.deepEqual([h.events[0]!.from, h.events[0]!.to, h.events[0]!.cause], ['down', 'starting', 'health']);

  const seen: number[] = [];
  for (let k = 1; k <= 19; k++) {
    await h.clock.advance(500);
    seen.push(h.table.backends.effectiveWeight(0));
  }
  // tick every 500 ms: 10 + 90 * t / 10 s
  assert.deepEqual(seen, [15, 19, 24, 28, 33, 37, 42, 46, 51, 55, 60, 64, 69, 73, 78, 82, 87, 91, 96]);
  assert.equal(h.table.backends.opState(0), OpState.Starting);
  await h.clock.advance(500);
  assert.equal(h.table.backends.opState(0), OpState.Up);
  assert.equal(h.table.backends.lastCause(0), Cause.SlowStart);
  assert.equal(h.table.backends.effectiveWeight(0), 100);
  assert.equal(h.clock.now() - t0, 10_000);
  assert.deepEqual([h.events[1]!.from, h.events[1]!.to, h.events[1]!.cause], ['starting', 'up', 'slow_start']);
  assert.equal(h.checker.status(0)!.slowStart, null);
  assert.equal(h.clock.pending(), 1, 'the ticker stopped; only the next probe is scheduled');
  h.checker.stop();
});

test('the ramp completes on time even when slow_start is not a multiple of the tick', async () => {
  const h = await recovering(1_200);
  await h.clock.advance(1_199);
  assert.equal(h.table.backends.opState(0), OpState.Starting);
  await h.clock.advance(1);
  assert.equal(h.table.backends.opState(0), OpState.Up);
  h.checker.stop();
});

test('set weight during a ramp changes the target and keeps the ramp position', async () => {
  const h = await recovering(10_000);
  await h.clock.advance(5_000);
  assert.equal(h.table.backends.effectiveWeight(0), 55);
  setWeight(h, 0, 20);
  assert.equal(h.table.backends.weight(0), 20);
  assert.equal(h.table.backends.effectiveWeight(0), 11);
  await h.clock.advance(5_000);
  assert.equal(h.table.backends.opState(0), OpState.Up);
  assert.equal(h.table.backends.effectiveWeight(0), 20);
  setWeight(h, 0, 7);
  assert.deepEqual(
    [h.table.backends.weight(0), h.table.backends.effectiveWeight(0)],
    [7, 7],
    'outside a ramp both move together',
  );
  h.checker.stop();
});

test('a backend that fails again while ramping goes down and stops ramping', async () => {
  const h = new Harness();
  h.randoms = [0];
  h.answer(0, ok, fail);
  h.fallback = ok;
  h.watch(h.backend(0, { slowStartMs: 30_000, check: tcpCheck({ rise: 1, fall: 1, interval: 2000 }) }, OpState.Down));
  await h.clock.advance(0);
  assert.equal(h.table.backends.opState(0), OpState.Starting);
  await h.clock.advance(2000);
  assert.equal(h.table.backends.opState(0), OpState.Down);
  assert.equal(h.checker.status(0)!.slowStart, null);
  assert.equal(h.table.backends.effectiveWeight(0), h.table.backends.weight(0));
  assert.equal(h.clock.pending(), 1, 'only the next probe is scheduled: no ramp ticker is left');
  h.checker.stop();
});

test('reload keeps a ramp going; shortening slow_start finishes it sooner', async () => {
  const h = await recovering(60_000);
  await h.clock.advance(10_000);
  const entry = {
    slot: 0,
    key: 'web/b0',
    pool: 'web',
    address: { host: '127.0.0.1', port: 10000 },
    check: tcpCheck({ rise: 1, interval: 60_000 }),
    slowStartMs: 20_000,
  };
  h.watch(entry);
  assert.equal(h.table.backends.opState(0), OpState.Starting);
  await h.clock.advance(10_000);
  assert.equal(h.table.backends.opState(0), OpState.Up);
  h.checker.stop();
});

test('a changed configured weight moves the effective weight; the configured one is left to its writer', () => {
  const h = new Harness();
  h.fallback = 'hold';
  h.watch(h.backend(0, { slowStartMs: 10_000 }, OpState.Up, 10));
  h.table.backends.setConfiguredWeight(0, 30);
  assert.deepEqual(
    [h.table.backends.weight(0), h.table.backends.effectiveWeight(0)],
    [30, 10],
    'slow start has not been told yet',
  );
  h.checker.weightChanged(0);
  assert.deepEqual([h.table.backends.weight(0), h.table.backends.effectiveWeight(0)], [30, 30]);
  h.checker.stop();
});
