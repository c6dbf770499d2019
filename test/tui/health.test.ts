// The header's health view, from snapshots: what each phase shows, the lame
// duck counting down between snapshots, and an older daemon that reports none.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { healthView } from '../../tui/health.js';
import { FakeContext } from '../control/fake-context.js';

test('healthy: a green badge and no reasons line', () => {
  const s = new FakeContext().snapshot();
  assert.deepEqual(healthView(s, s.time), { badge: 'healthy', healthy: true, color: 'green', detail: null });
});

test('lame duck: the time left counts down from the snapshot, and stops at 0', () => {
  const ctx = new FakeContext();
  ctx.phase = 'lame_duck';
  const s = ctx.snapshot();
  assert.equal(healthView(s, s.time)?.badge, 'LAME DUCK 5.0s');
  assert.equal(healthView(s, s.time + 1200)?.badge, 'LAME DUCK 3.8s');
  assert.equal(healthView(s, s.time + 9000)?.badge, 'LAME DUCK 0.0s');
  assert.equal(healthView(s, s.time)?.color, 'yellow');
});

test('draining: the connections every worker still holds; other reasons follow the stop', () => {
  const ctx = new FakeContext();
  ctx.phase = 'draining';
  ctx.listenerEnabled.set('web', false);
  const s = ctx.snapshot();
  s.workers = s.workers.map((w, i) => ({ ...w, active: i === 0 ? 1 : 0 }));
  const v = healthView(s, s.time);
  assert.equal(v?.badge, 'DRAINING 1 connection');
  assert.equal(v?.detail, 'stopping: listeners closed, 1 connection finishing · every listener is disabled');
});

test('unhealthy while serving: red, every reason on the line', () => {
  const ctx = new FakeContext();
  ctx.listenerEnabled.set('web', false);
  for (const b of ctx.backends) if (b.pool === 'db') b.op = 'down';
  const s = ctx.snapshot();
  assert.deepEqual(healthView(s, s.time), {
    badge: 'UNHEALTHY',
    healthy: false,
    color: 'red',
    detail: 'every listener is disabled · critical pool db has no backend up (0 of 2)',
  });
});

test('a daemon that reports no health: no view', () => {
  const s = new FakeContext().snapshot();
  const info: Partial<typeof s.info> = { ...s.info };
  delete info.health;
  assert.equal(healthView({ ...s, info: info as typeof s.info }, s.time), null);
});
