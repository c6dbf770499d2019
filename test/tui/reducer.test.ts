import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HISTORY, initialState, MAX_LOG, reduce, type DashboardState } from '../../tui/reducer.js';
import type { DaemonEvent, Snapshot } from '../../daemon/control/snapshot/snapshot.js';
import { DashboardContext } from './fake-daemon.js';

function snapshots(n: number, ctx = new DashboardContext(2)): Snapshot[] {
  const out: Snapshot[] = [];
  for (let i = 0; i < n; i++) {
    ctx.advance();
    out.push({ ...structuredClone(ctx.snapshot()), time: 1_000_000 + i * 1000 });
  }
  return out;
}

function feed(state: DashboardState, list: Snapshot[]): DashboardState {
  return list.reduce((s, snapshot) => reduce(s, { type: 'snapshot', snapshot }), state);
}

test('each snapshot adds one sample per backend and pool series, in arrival order', () => {
  const list = snapshots(5);
  const s = feed(initialState('/x.sock', 0), list);
  assert.equal(s.snapshot, list[4]);
  assert.deepEqual(
    s.times,
    list.map((x) => x.time),
  );
  assert.deepEqual(
    s.backendSeries['web/b1']!.connections,
    list.map((x) => x.backends.find((b) => b.key === 'web/b1')!.rates.connections),
  );
  assert.deepEqual(
    s.poolSeries.db!.bytesOut,
    list.map((x) => x.pools.find((p) => p.name === 'db')!.rates.bytesOut),
  );
});

test('history is a bounded ring: the newest HISTORY samples are kept', () => {
  const list = snapshots(HISTORY + 25);
  const s = feed(initialState('/x.sock', 0), list);
  assert.equal(s.times.length, HISTORY);
  assert.equal(s.times[0], list[25]!.time);
  assert.equal(s.backendSeries['db/b2']!.firstByteP95.length, HISTORY);
  assert.equal(s.processCpu.length, HISTORY);
});

test('a backend removed by a reload loses its series; one added starts empty', () => {
  const ctx = new DashboardContext(2);
  let s = feed(initialState('/x.sock', 0), snapshots(3, ctx));
  ctx.backends = ctx.backends.filter((b) => b.key !== 'web/b2');
  s = feed(s, snapshots(1, ctx));
  assert.equal(s.backendSeries['web/b2'], undefined);
  assert.equal(s.backendSeries['web/b1']!.connections.length, 4);
});

test('a check result is recorded once per completed check', () => {
  const ctx = new DashboardContext(1);
  const snap = ctx.snapshot();
  const b = snap.backends[0]!;
  b.check = { type: 'tcp', result: 'failed', durationMs: 3, time: 5000, detail: 'ECONNREFUSED' };
  let s = reduce(initialState('/x.sock', 0), { type: 'snapshot', snapshot: structuredClone(snap) });
  s = reduce(s, { type: 'snapshot', snapshot: structuredClone(snap) });
  assert.equal(s.checks[b.key]!.length, 1);
  b.check = { ...b.check, result: 'ok', time: 6000, detail: '' };
  s = reduce(s, { type: 'snapshot', snapshot: structuredClone(snap) });
  assert.deepEqual(
    s.checks[b.key]!.map((c) => c.result),
    ['failed', 'ok'],
  );
});

test('events feed state changes, the alert log, adaptive switches and the log pane', () => {
  const events: DaemonEvent[] = [
    { type: 'state', time: 1, backend: 'web/b1', from: 'up', to: 'down', cause: 'health', detail: 'ECONNREFUSED' },
    {
      type: 'alert',
      time: 2,
      alert: {
        name: 'backend_down',
        subject: 'web/b1',
        state: 'firing',
        severity: 'critical',
        message: 'web/b1 is down',
        since: 1,
        firedAt: 2,
        resolvedAt: null,
        value: 1,
        threshold: 1,
      },
    },
    { type: 'adaptive', time: 3, pool: 'web', from: 'round_robin', to: 'least_connections', reason: 'imbalance 2.1' },
  ];
  const s = events.reduce((st, event) => reduce(st, { type: 'event', event }), initialState('/x.sock', 0));
  assert.deepEqual(s.stateChanges, [
    { time: 1, backend: 'web/b1', from: 'up', to: 'down', cause: 'health', detail: 'ECONNREFUSED' },
  ]);
  assert.equal(s.alertLog[0]!.name, 'backend_down');
  assert.equal(s.switches[0]!.to, 'least_connections');
  assert.deepEqual(
    s.log.map((l) => l.text),
    [
      'web/b1: up -> down (health: ECONNREFUSED)',
      'alert backend_down web/b1 firing: web/b1 is down',
      'web: adaptive round_robin -> least_connections (imbalance 2.1)',
    ],
  );
});

test('the log pane keeps the newest MAX_LOG lines', () => {
  let s = initialState('/x.sock', 0);
  for (let i = 0; i < MAX_LOG + 10; i++) s = reduce(s, { type: 'log', time: i, kind: 'action', text: `a${i}` });
  assert.equal(s.log.length, MAX_LOG);
  assert.equal(s.log[0]!.text, 'a10');
});

test('connection: lost keeps the first loss time and counts attempts; connected resets', () => {
  let s = initialState('/x.sock', 0);
  s = reduce(s, { type: 'connected', time: 10 });
  assert.equal(s.connection.status, 'connected');
  s = reduce(s, { type: 'disconnected', time: 20, error: 'closed', retryInMs: 250 });
  s = reduce(s, { type: 'disconnected', time: 30, error: 'ECONNREFUSED', retryInMs: 500 });
  assert.deepEqual(
    {
      status: s.connection.status,
      since: s.connection.since,
      attempts: s.connection.attempts,
      retry: s.connection.retryInMs,
    },
    { status: 'lost', since: 20, attempts: 2, retry: 500 },
  );
  s = reduce(s, { type: 'connected', time: 40 });
  assert.deepEqual([s.connection.status, s.connection.connects, s.connection.attempts], ['connected', 2, 0]);
  s = reduce(s, { type: 'disconnected', time: 50, error: 'refused', retryInMs: null });
  assert.equal(s.connection.status, 'failed');
});

test('the reducer does not mutate the state it is given', () => {
  const s0 = feed(initialState('/x.sock', 0), snapshots(2));
  const frozen = structuredClone(s0);
  reduce(s0, { type: 'snapshot', snapshot: snapshots(1)[0]! });
  reduce(s0, { type: 'log', time: 1, kind: 'reply', text: 'x' });
  assert.deepEqual(s0, frozen);
});
