// Adaptive over real sockets: a pool with one backend slow to its first byte
// switches to least_response_time, logs the switch with its reason, and then
// sends most new connections to the fast backend; once that backend recovers the
// pool goes back to weighted_round_robin within a few windows, and at no point is
// the spread one its own poor_distribution alert would report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startNamedEcho, freePort, whoAnswers, waitFor } from '../helpers/servers.js';
import { startTestDaemon, simpleConfig } from '../helpers/daemon.js';
import { startBackends, type SimBackend } from '../../backends/index.js';
import { runTraffic } from '../../bench/traffic/index.js';
import { startAlerts } from '../../daemon/control/alerts/service.js';
import { formatPools } from '../../daemon/control/socket/format.js';
import type { DaemonEvent } from '../../daemon/control/snapshot/snapshot.js';

test('adaptive switches a pool with a slow backend to least_response_time, with its reason', async () => {
  const fast = await startNamedEcho('fast');
  const slow = await startNamedEcho('slow', 0, { greetDelayMs: 80 });
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({
      listenPort: port,
      algorithm: 'adaptive',
      extraPool: 'adaptive = { window = "300ms", confirm = 2, min_dwell = "600ms" }',
      backends: [fast, slow].map((b) => ({ name: b.name, port: b.port })),
    }),
  );
  let running = true;
  const answers: string[] = [];
  const load = (async () => {
    const end = Date.now() + 20_000;
    while (running && Date.now() < end) {
      // a few connections at once, so load per backend is visible to the policy
      answers.push(...(await Promise.all([0, 1, 2].map(() => whoAnswers(port, 3000)))));
    }
  })();
  try {
    const pool = () => d.daemon.snapshot().pools.find((p) => p.name === 'web')!;
    assert.equal(pool().algorithm, 'adaptive');
    await waitFor(() => pool().activeAlgorithm === 'least_response_time', 15_000, 'switch to least_response_time');
    assert.ok(pool().adaptiveSwitches >= 1);
    const ev = d.daemon.events(200).find((e) => e.type === 'adaptive' && e.to === 'least_response_time');
    assert.ok(ev && ev.type === 'adaptive');
    assert.match(ev.reason, /latency spread x\d+(\.\d)?: slow is slowest, fast fastest/);
    assert.ok(d.logs.some((l) => l.msg === 'adaptive pool switched strategy' && l.to === 'least_response_time'));
    const from = answers.length;
    await waitFor(() => answers.length >= from + 60, 15_000, '60 more connections');
    const after = answers.slice(from);
    const onFast = after.filter((a) => a === 'fast').length;
    assert.ok(onFast / after.length > 0.7, `fast got ${onFast} of ${after.length} after the switch`);
  } finally {
    running = false;
    await load.catch(() => {});
    await d.stop();
    await Promise.all([fast.close(), slow.close()]);
  }
});

test('adaptive comes back after the slow backend recovers, shows why, and never leaves a spread its alert calls poor', async () => {
  const backends: SimBackend[] = await startBackends(3, { mode: 'http' });
  // 10 ms to answer: the scheduling noise of a busy test machine stays small next to it
  for (const b of backends) await b.setBehaviour({ latency: '10ms' });
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({
      listenPort: port,
      algorithm: 'adaptive',
      extraPool: 'adaptive = { window = "500ms", confirm = 2, min_dwell = "2s" }',
      // poor_distribution as strict as it gets: judged every second, fires at once
      extraTop: '[alerts]\ninterval = "1s"\nfor = "0s"\nimbalance_min_connections = 100',
      backends: backends.map((b) => ({ name: b.name, port: b.port })),
    }),
  );
  const alerts = startAlerts(d.daemon);
  const events: DaemonEvent[] = [];
  const off = d.daemon.onEvent((e) => events.push(e));
  const reasons = (): string =>
    events
      .map((e) => (e.type === 'adaptive' ? `-> ${e.to} (${e.reason})` : ''))
      .filter((x) => x !== '')
      .join('; ');
  const pool = () => d.daemon.snapshot().pools.find((p) => p.name === 'web')!;
  // one second of traffic at a time (four clients, 40 connections a second), with
  // the strategy in use at its end
  const seconds: { strategy: string; answers: Record<string, number> }[] = [];
  const second = async (): Promise<void> => {
    const s = await runTraffic({
      target: `127.0.0.1:${port}`,
      mode: 'tcp',
      requests: 40,
      rate: 40,
      concurrent: 4,
      timeoutMs: 5000,
      progress: 'none',
    });
    assert.equal(s.errors, 0);
    seconds.push({ strategy: pool().activeAlgorithm, answers: s.distribution });
  };
  const until = async (what: string, cond: () => boolean, limit: number): Promise<number> => {
    for (let i = 1; i <= limit; i++) {
      await second();
      if (cond()) return i;
    }
    throw new Error(`${what}: not within ${limit} s (strategies ${seconds.map((s) => s.strategy).join(' ')})`);
  };
  try {
    await until('alike backends on weighted_round_robin', () => pool().activeAlgorithm === 'weighted_round_robin', 10);
    assert.match(pool().adaptiveReason!, /^backends alike/);

    await backends[0]!.setBehaviour({ latency: '80ms' });
    await until('a switch to least_response_time', () => pool().activeAlgorithm === 'least_response_time', 10);
    assert.match(pool().adaptiveReason!, /^latency spread x\d+(\.\d)?: b1 is slowest/);
    assert.match(formatPools(d.daemon.snapshot().pools), /^web: least_response_time: latency spread x/m);
    const slowFrom = seconds.length;
    for (let i = 0; i < 6; i++) await second();
    assert.ok(
      seconds.slice(slowFrom).every((s) => s.strategy === 'least_response_time'),
      `it stays while b1 is slow: ${seconds.map((s) => s.strategy).join(' ')}; ${reasons()}`,
    );

    await backends[0]!.setBehaviour({ latency: '10ms' });
    // the estimates see the recovery within a probe or two; then `confirm` windows
    const took = await until('a switch back', () => pool().activeAlgorithm !== 'least_response_time', 8);
    assert.equal(pool().activeAlgorithm, 'weighted_round_robin', `back after ${took} s`);
    assert.match(pool().adaptiveReason!, /^backends alike/);
    const backFrom = seconds.length;
    for (let i = 0; i < 6; i++) await second();
    const after: Record<string, number> = {};
    for (const s of seconds.slice(backFrom))
      for (const [k, n] of Object.entries(s.answers)) after[k] = (after[k] ?? 0) + n;
    // weighted_round_robin: exact shares, give or take the connections in flight
    const during = seconds.slice(backFrom).map((s) => s.strategy);
    for (const b of ['b1', 'b2', 'b3']) {
      assert.ok(
        Math.abs((after[b] ?? 0) - 80) <= 4,
        `after: ${JSON.stringify(after)}; ${during.join(' ')}; ${reasons()}`,
      );
    }

    const switches = events.filter((e) => e.type === 'adaptive').map((e) => (e.type === 'adaptive' ? e.to : ''));
    assert.deepEqual(switches.slice(-2), ['least_response_time', 'weighted_round_robin']);
    const poor = events.filter((e) => e.type === 'alert' && e.alert.name === 'poor_distribution');
    assert.deepEqual(poor, [], 'poor_distribution never pending or firing');
  } finally {
    off();
    await alerts.close();
    await d.stop();
    await Promise.all(backends.map((b) => b.stop()));
  }
});
