// Built-in alerts end to end on a real daemon: a killed backend raises
// backend_down within fall x interval (metrics, `show alerts`, log, event) and
// its restart resolves it; a backend slow to send its first byte raises high_latency.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startNamedEcho, freePort, whoAnswers, waitFor } from '../helpers/servers.js';
import { startTestDaemon, simpleConfig } from '../helpers/daemon.js';
import { startAlerts } from '../../daemon/control/alerts/service.js';
import { startMetricsServer } from '../../daemon/control/metrics/server.js';
import { startControlServer } from '../../daemon/control/socket/server.js';
import { request } from '../../daemon/control/socket/client.js';
import { parsePromText, sampleValue } from '../metrics/prom-text.js';
import type { AlertSnapshot, DaemonEvent } from '../../daemon/control/snapshot/snapshot.js';

const ALERTS = '[alerts]\ninterval = "200ms"\nfor = "400ms"';

async function metric(port: number, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return sampleValue(parsePromText(text), name, labels);
}

test('killed backend raises backend_down within fall x interval; restarting it resolves it', async (t) => {
  const b1 = await startNamedEcho('b1');
  let b2 = await startNamedEcho('b2');
  const b2port = b2.port;
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({
      listenPort: port,
      extraTop: ALERTS,
      health: '{ type = "tcp", interval = "200ms", timeout = "150ms", rise = 2, fall = 2 }',
      backends: [b1, b2].map((b) => ({ name: b.name, port: b.port })),
    }),
  );
  const alerts = startAlerts(d.daemon);
  const metrics = await startMetricsServer(d.daemon, { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' });
  const sock = `/tmp/netmon-alerts-test-${process.pid}.sock`;
  const control = await startControlServer({ path: sock, context: d.daemon });
  const events: DaemonEvent[] = [];
  const off = d.daemon.onEvent((e) => events.push(e));
  t.after(async () => {
    off();
    await control.close();
    await metrics.close();
    await alerts.close();
    await d.stop();
    await b1.close();
    await b2.close();
  });
  const mport = metrics.address!.port;
  await waitFor(() => d.daemon.snapshot().backends.every((b) => b.check.result === 'ok'), 3000, 'first probes pass');
  assert.equal(await metric(mport, 'netmon_alerts_firing', { alert: 'backend_down' }), 0);

  await b2.close();
  const killedAt = Date.now();
  const firing = (): AlertSnapshot | undefined =>
    d.daemon.snapshot().alerts.find((a) => a.name === 'backend_down' && a.subject === 'web/b2' && a.state === 'firing');
  await waitFor(() => firing() !== undefined, 5000, 'backend_down firing');
  const took = Date.now() - killedAt;
  // fall (2) x interval (200 ms), plus one probe timeout and scheduling slack on a busy machine
  assert.ok(took <= 2 * 200 + 150 + 1500, `raised after ${took} ms`);
  // and the alert itself adds no delay to the health check's verdict
  const downAt = d.daemon.snapshot().backends.find((b) => b.name === 'b2')!.lastChange;
  assert.ok(firing()!.since - downAt < 100, `alert ${firing()!.since - downAt} ms after the state change`);

  assert.equal(await metric(mport, 'netmon_alerts_firing', { alert: 'backend_down' }), 1);
  assert.equal(
    await metric(mport, 'netmon_alert_active', {
      alert: 'backend_down',
      subject: 'web/b2',
      state: 'firing',
      severity: 'critical',
    }),
    1,
  );
  assert.equal(await metric(mport, 'netmon_backend_up', { pool: 'web', backend: 'b2' }), 0);
  const shown = (await request(sock, 'show alerts')) as AlertSnapshot[];
  assert.ok(shown.some((a) => a.name === 'backend_down' && a.subject === 'web/b2' && a.state === 'firing'));
  const line = d.logs.find((l) => l['alert'] === 'backend_down' && l['state'] === 'firing');
  assert.ok(line, 'one log line for the transition');
  assert.equal(line['level'], 'warn');
  assert.equal(line['subject'], 'web/b2');
  assert.ok(events.some((e) => e.type === 'alert' && e.alert.name === 'backend_down' && e.alert.state === 'firing'));

  b2 = await startNamedEcho('b2', b2port);
  await waitFor(
    () =>
      d.daemon
        .snapshot()
        .alerts.some((a) => a.name === 'backend_down' && a.subject === 'web/b2' && a.state === 'resolved'),
    5000,
    'backend_down resolved',
  );
  assert.equal(await metric(mport, 'netmon_alerts_firing', { alert: 'backend_down' }), 0);
  assert.equal(d.logs.filter((l) => l['alert'] === 'backend_down' && l['state'] === 'firing').length, 1, 'fired once');
  assert.equal(
    d.logs.filter((l) => l['alert'] === 'backend_down' && l['state'] === 'resolved').length,
    1,
    'resolved once',
  );
  assert.ok(events.some((e) => e.type === 'alert' && e.alert.state === 'resolved' && e.alert.resolvedAt !== null));
  const answers = [await whoAnswers(port), await whoAnswers(port)].sort();
  assert.deepEqual(answers, ['b1', 'b2'], 'both serve again');
});

/** Greets after `delayMs`, like a backend slow to produce its first byte. */
async function startSlow(delayMs: number): Promise<{ port: number; close(): Promise<void> }> {
  const open = new Set<net.Socket>();
  const server = net.createServer((c) => {
    open.add(c);
    c.on('close', () => open.delete(c));
    c.on('error', () => {});
    const timer = setTimeout(() => c.end('slow\n'), delayMs);
    c.on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((r) => {
        for (const c of open) c.destroy();
        server.close(() => r());
      }),
  };
}

test('a backend 250 ms slow to its first byte raises high_latency', async (t) => {
  const slow = await startSlow(250);
  const fast = await startNamedEcho('fast');
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({
      listenPort: port,
      extraTop: ALERTS,
      backends: [
        { name: 'slow', port: slow.port },
        { name: 'fast', port: fast.port },
      ],
    }),
  );
  const alerts = startAlerts(d.daemon);
  t.after(async () => {
    await alerts.close();
    await d.stop();
    await slow.close();
    await fast.close();
  });
  // 24 connections, round robin: 12 to each backend
  await Promise.all(Array.from({ length: 24 }, () => whoAnswers(port, 3000)));
  await waitFor(
    () => d.daemon.snapshot().alerts.some((a) => a.name === 'high_latency' && a.state === 'firing'),
    6000,
    'high_latency firing',
  );
  const list = d.daemon.snapshot().alerts.filter((a) => a.name === 'high_latency');
  assert.deepEqual(
    list.map((a) => a.subject),
    ['web/slow'],
    'only the slow backend',
  );
  assert.ok(list[0]!.value >= 200 && list[0]!.value <= 500, `p95 ${list[0]!.value} ms`);
  assert.equal(list[0]!.threshold, 200);
  assert.ok(d.logs.some((l) => l['alert'] === 'high_latency' && l['state'] === 'pending'));
});
