// The instance's health for routing tools: the rules (stopping, no listener open,
// a critical pool without a backend up), and what a real daemon answers on the
// metrics port's /healthz, in netmon_healthy and through `netmon ctl show health`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { evaluateHealth, type HealthInput } from '../../daemon/control/service-health.js';
import { startMetricsServer } from '../../daemon/control/metrics/server.js';
import { startControlServer } from '../../daemon/control/socket/server.js';
import { EXIT_UNHEALTHY } from '../../daemon/control/socket/commands.js';
import { startTestDaemon, simpleConfig } from '../helpers/daemon.js';
import { deadPort, freePort, startNamedEcho, waitFor } from '../helpers/servers.js';
import { NETMON } from '../systemd/child-daemon.js';
import { parsePromText, sampleValue } from '../metrics/prom-text.js';

const serving: HealthInput = {
  phase: 'serving',
  lameDuckRemainingMs: 0,
  listeners: [
    { name: 'web', open: true, enabled: true },
    { name: 'tls', open: false, enabled: true },
  ],
  criticalPools: [{ pool: 'web', up: 1, total: 3 }],
};

test('healthy while serving with a listener open and every critical pool with a backend up', () => {
  const h = evaluateHealth(serving);
  assert.equal(h.healthy, true);
  assert.deepEqual(h.reasons, []);
});

test('each rule alone makes the instance unhealthy, with its reason code', () => {
  const codes = (i: Partial<HealthInput>): string[] => evaluateHealth({ ...serving, ...i }).reasons.map((r) => r.code);
  assert.deepEqual(codes({ phase: 'lame_duck', lameDuckRemainingMs: 4200 }), ['stopping']);
  assert.deepEqual(codes({ phase: 'draining' }), ['stopping']);
  assert.deepEqual(codes({ listeners: [{ name: 'web', open: false, enabled: true }] }), ['no_listener']);
  assert.deepEqual(codes({ listeners: [] }), ['no_listener']);
  assert.deepEqual(codes({ criticalPools: [{ pool: 'web', up: 0, total: 3 }] }), ['critical_pool']);
  const all = evaluateHealth({
    phase: 'lame_duck',
    lameDuckRemainingMs: 1000,
    listeners: [{ name: 'web', open: false, enabled: false }],
    criticalPools: [
      { pool: 'web', up: 0, total: 2 },
      { pool: 'api', up: 2, total: 2 },
    ],
  });
  assert.deepEqual(
    all.reasons.map((r) => r.message),
    [
      'stopping: reporting unhealthy while still accepting; listeners close in 1000 ms',
      'every listener is disabled',
      'critical pool web has no backend up (0 of 2)',
    ],
  );
  assert.equal(all.lameDuckRemainingMs, 1000);
});

function ctl(sock: string, ...words: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(NETMON, ['ctl', '--socket', sock, ...words], { timeout: 20_000 }, (err, stdout) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout }),
    );
  });
}

test('a live daemon: /healthz, netmon_healthy and `ctl show health` follow the listeners and the critical pool', async (t) => {
  const b1 = await startNamedEcho('b1');
  const gone = await deadPort();
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({
      listenPort: port,
      backends: [{ name: 'b1', port: b1.port }],
      health: '{ type = "tcp", interval = "100ms", timeout = "100ms", rise = 1, fall = 1 }',
      extraPool: 'critical = true',
    }) +
      // a second, non-critical pool whose only backend is down: it does not count
      '[pool.spare]\nhealth = { type = "tcp", interval = "100ms", timeout = "100ms", rise = 1, fall = 1 }\n' +
      `[[pool.spare.backend]]\nname = "s1"\naddress = "127.0.0.1:${gone}"\n`,
  );
  const metrics = await startMetricsServer(d.daemon, { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' });
  const sock = `/tmp/netmon-health-test-${process.pid}.sock`;
  const control = await startControlServer({ path: sock, context: d.daemon });
  t.after(async () => {
    await control.close();
    await metrics.close();
    await d.stop();
    await b1.close();
  });
  const healthz = async (): Promise<{ status: number; body: string }> => {
    const r = await fetch(`http://127.0.0.1:${metrics.address!.port}/healthz`);
    return { status: r.status, body: await r.text() };
  };
  const gauge = async (): Promise<number | undefined> => {
    const text = await (await fetch(`http://127.0.0.1:${metrics.address!.port}/metrics`)).text();
    return sampleValue(parsePromText(text), 'netmon_healthy', {});
  };

  await waitFor(async () => (await healthz()).status === 200, 5000, 'healthy');
  assert.equal((await healthz()).body, 'ok\n');
  assert.equal(await gauge(), 1);
  const ok = await ctl(sock, 'show', 'health');
  assert.equal(ok.code, 0);
  assert.match(ok.stdout, /^healthy\nPhase: +serving\nListeners open: +main\nCritical pool web: +1\/1 up$/m);

  d.daemon.setListenerEnabled('main', false);
  const noListener = await healthz();
  assert.equal(noListener.status, 503);
  assert.equal(noListener.body, 'unhealthy\nno_listener: every listener is disabled\n');
  assert.equal(await gauge(), 0);
  const down = await ctl(sock, 'show', 'health');
  assert.equal(down.code, EXIT_UNHEALTHY);
  assert.match(down.stdout, /^UNHEALTHY\n {2}every listener is disabled\n/);
  // the snapshot carries the same verdict: `show info` and the dashboard's header
  assert.deepEqual(d.daemon.snapshot().info.health, d.daemon.serviceHealth());
  assert.match((await ctl(sock, 'show', 'info')).stdout, /^Health: +UNHEALTHY: no_listener$/m);
  d.daemon.setListenerEnabled('main', true);
  assert.equal((await healthz()).status, 200);

  // the critical pool's only backend goes away: unhealthy until it is back
  await b1.close();
  await waitFor(async () => (await healthz()).status === 503, 5000, 'critical pool down');
  assert.match((await healthz()).body, /critical_pool: critical pool web has no backend up \(0 of 1\)/);
  const json = await ctl(sock, '--json', 'show', 'health');
  assert.equal(json.code, EXIT_UNHEALTHY);
  const reply = JSON.parse(json.stdout) as { data: { healthy: boolean; reasons: { code: string }[] } };
  assert.deepEqual(
    reply.data.reasons.map((r) => r.code),
    ['critical_pool'],
  );
  const again = await startNamedEcho('b1', b1.port);
  t.after(() => again.close());
  await waitFor(async () => (await healthz()).status === 200, 5000, 'healthy again');
  assert.equal((await ctl(sock, 'show', 'health')).code, 0);
});

test('no listener open when every worker is gone: a killed worker closes them until it restarts', async (t) => {
  const b1 = await startNamedEcho('b1');
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({ listenPort: port, workers: 1, backends: [{ name: 'b1', port: b1.port }] }),
  );
  t.after(async () => {
    await d.stop();
    await b1.close();
  });
  assert.equal(d.daemon.serviceHealth().healthy, true);
  await d.daemon.killWorker(0);
  const h = d.daemon.serviceHealth();
  assert.deepEqual(
    h.reasons.map((r) => r.code),
    ['no_listener'],
  );
  assert.deepEqual(h.listeners, [{ name: 'main', open: false, enabled: true }]);
  await waitFor(() => d.daemon.serviceHealth().healthy, 10_000, 'the restarted worker to listen again');
});
