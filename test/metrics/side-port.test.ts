// The metrics side port against a real daemon: a scrape taken during load parses
// as strict Prometheus text, its counters equal the snapshot and `show stats`
// once traffic stops, and the port is read-only.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startNamedEcho, freePort, whoAnswers, waitFor } from '../helpers/servers.js';
import { startTestDaemon, simpleConfig, type TestDaemon } from '../helpers/daemon.js';
import { startMetricsServer, type MetricsServer } from '../../daemon/control/metrics/server.js';
import { startControlServer } from '../../daemon/control/socket/server.js';
import { request } from '../../daemon/control/socket/client.js';
import { NetmonError } from '../../daemon/errors.js';
import { firstLine } from '../edge/helpers.js';
import { parsePromText, sampleValue, type PromFamily } from './prom-text.js';
import type { Snapshot } from '../../daemon/control/snapshot/snapshot.js';

const ANY = { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' };

async function get(
  port: number,
  path: string,
  method = 'GET',
): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

async function scrape(port: number): Promise<Map<string, PromFamily>> {
  const r = await get(port, '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  return parsePromText(r.body);
}

test('a scrape during load parses strictly and its counters match the snapshot and the control socket', async (t) => {
  const backends = await Promise.all(['b1', 'b2', 'b3'].map((n) => startNamedEcho(n)));
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({ listenPort: port, backends: backends.map((b) => ({ name: b.name, port: b.port })) }),
  );
  const metrics = await startMetricsServer(d.daemon, ANY);
  const sock = `/tmp/netmon-metrics-test-${process.pid}.sock`;
  const control = await startControlServer({ path: sock, context: d.daemon });
  t.after(async () => {
    await control.close();
    await metrics.close();
    await d.stop();
    await Promise.all(backends.map((b) => b.close()));
  });
  const mport = metrics.address!.port;

  // bounded load: 8 clients x 40 connections, scraped while it runs
  const N = 8 * 40;
  let done = 0;
  const load = Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = 0; i < 40; i++) {
        await whoAnswers(port);
        done++;
      }
    }),
  );
  let during = 0;
  while (done < N) {
    const fams = await scrape(mport);
    assert.ok(fams.has('netmon_backend_connections_total'));
    during++;
    await new Promise((r) => setTimeout(r, 20));
  }
  await load;
  assert.ok(during >= 1, 'scraped at least once under load');

  // listener bytes are added when a connection closes: wait until every close is counted
  await waitFor(() => d.daemon.snapshot().listeners[0]!.active === 0, 5000, 'connections closed');
  const fams = await scrape(mport);
  const snap = d.daemon.snapshot();
  const stats = (await request(sock, 'show stats')) as Pick<Snapshot, 'backends' | 'listeners'>;

  let total = 0;
  for (const b of snap.backends) {
    const labels = { pool: 'web', backend: b.name };
    const conns = sampleValue(fams, 'netmon_backend_connections_total', labels);
    assert.equal(conns, b.connections, `${b.name} connections`);
    assert.equal(
      conns,
      stats.backends.find((x) => x.name === b.name)!.connections,
      `${b.name} connections via show stats`,
    );
    assert.equal(sampleValue(fams, 'netmon_backend_bytes_in_total', labels), b.bytesIn);
    assert.equal(sampleValue(fams, 'netmon_backend_bytes_out_total', labels), b.bytesOut);
    assert.equal(sampleValue(fams, 'netmon_backend_active_connections', labels), 0);
    assert.equal(sampleValue(fams, 'netmon_backend_up', labels), 1);
    assert.equal(sampleValue(fams, 'netmon_backend_weight', labels), 1);
    assert.equal(sampleValue(fams, 'netmon_backend_connect_seconds_count', labels), b.connections);
    assert.equal(sampleValue(fams, 'netmon_backend_connection_duration_seconds_count', labels), b.connections);
    assert.equal(
      sampleValue(fams, 'netmon_backend_connection_duration_seconds_bucket', { ...labels, le: '3600' }),
      b.connections,
    );
    assert.equal(sampleValue(fams, 'netmon_backend_connect_errors_total', { ...labels, reason: 'refused' }), 0);
    total += conns!;
  }
  assert.equal(total, N, 'every connection reached a backend');
  const l = { listener: 'main' };
  assert.equal(sampleValue(fams, 'netmon_listener_connections_total', l), N);
  assert.equal(sampleValue(fams, 'netmon_listener_connections_total', l), stats.listeners[0]!.accepted);
  assert.equal(sampleValue(fams, 'netmon_listener_bytes_out_total', l), snap.listeners[0]!.bytesOut);
  assert.ok(snap.listeners[0]!.bytesOut >= N * 3, 'greetings were counted');
  assert.equal(sampleValue(fams, 'netmon_pool_algorithm', { pool: 'web', algorithm: 'round_robin' }), 1);
  assert.equal(sampleValue(fams, 'netmon_pool_algorithm', { pool: 'web', algorithm: 'ip_hash' }), 0);
  assert.equal(sampleValue(fams, 'netmon_worker_up', { worker: '0' }), 1);
  assert.equal(sampleValue(fams, 'netmon_reloads_total', { result: 'success' }), 0);
  assert.ok((sampleValue(fams, 'netmon_process_resident_memory_bytes', {}) ?? 0) > 0);
  assert.equal(sampleValue(fams, 'netmon_alerts_firing', { alert: 'backend_down' }), 0);
});

test('the port is read-only: /stats, /healthz and / answer, other methods get 405, unknown paths 404', async (t) => {
  const b1 = await startNamedEcho('b1');
  const port = await freePort();
  const d = await startTestDaemon(simpleConfig({ listenPort: port, backends: [{ name: 'b1', port: b1.port }] }));
  const metrics = await startMetricsServer(d.daemon, ANY);
  t.after(async () => {
    await metrics.close();
    await d.stop();
    await b1.close();
  });
  const mport = metrics.address!.port;
  const stats = await get(mport, '/stats');
  assert.equal(stats.status, 200);
  assert.match(stats.type, /^application\/json/);
  const snap = JSON.parse(stats.body) as Snapshot;
  assert.equal(snap.info.name, 'netmon');
  assert.deepEqual(
    snap.backends.map((b) => b.key),
    ['web/b1'],
  );
  assert.deepEqual(await get(mport, '/healthz').then((r) => [r.status, r.body]), [200, 'ok\n']);
  const index = await get(mport, '/');
  assert.equal(index.status, 200);
  assert.match(index.body, /netmon \d+\.\d+\.\d+/);
  assert.match(index.body, /href="\/metrics"/);
  assert.equal((await get(mport, '/metrics', 'HEAD')).status, 200);
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    const r = await fetch(`http://127.0.0.1:${mport}/metrics`, { method, body: method === 'DELETE' ? null : 'x' });
    assert.equal(r.status, 405, method);
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
  }
  assert.equal((await get(mport, '/nope')).status, 404);
  assert.equal((await get(mport, '/metrics/../stats')).status, 200); // fetch normalises the path
  assert.equal((await get(mport, '/__proto__')).status, 404);
  // nothing above changed the daemon
  assert.equal(d.daemon.snapshot().backends[0]!.admin, 'ready');
  assert.equal(d.daemon.snapshot().info.generation, 1);
});

test('a metrics port that cannot bind is a clear startup error; "off" starts nothing', async (t) => {
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  t.after(() => holder.close());
  const taken = (holder.address() as net.AddressInfo).port;
  const b1 = await startNamedEcho('b1');
  const port = await freePort();
  const d = await startTestDaemon(simpleConfig({ listenPort: port, backends: [{ name: 'b1', port: b1.port }] }));
  t.after(async () => {
    await d.stop();
    await b1.close();
  });
  const text = `127.0.0.1:${taken}`;
  await assert.rejects(startMetricsServer(d.daemon, { host: '127.0.0.1', port: taken, text }), (err: unknown) => {
    assert.ok(err instanceof NetmonError);
    assert.equal(err.code, 'E_METRICS_LISTEN');
    assert.match(err.message, new RegExp(`cannot listen on ${text}: address already in use`));
    return true;
  });
  const off = await startMetricsServer(d.daemon, null);
  assert.equal(off.address, null);
  await off.close();
});

/** A daemon with its metrics port in front of one echo backend b1; `listenerKey` is added to its listener. */
/** `greetAfterData`: the backend speaks only after the client (startNamedEcho). */
async function oneBackendDaemon(
  t: TestContext,
  listenerKey: string,
  greetAfterData = false,
): Promise<{ port: number; d: TestDaemon; metrics: MetricsServer }> {
  const b1 = await startNamedEcho('b1', 0, { greetAfterData });
  const port = await freePort();
  const toml = simpleConfig({ listenPort: port, backends: [{ name: 'b1', port: b1.port }] }).replace(
    'pool = "web"\n',
    `pool = "web"\n${listenerKey}\n`,
  );
  assert.ok(toml.includes(listenerKey), 'the key landed in the listener');
  const d = await startTestDaemon(toml);
  const metrics = await startMetricsServer(d.daemon, ANY);
  t.after(async () => {
    await metrics.close();
    await d.stop();
    await b1.close();
  });
  return { port, d, metrics };
}

test('netmon_protocol_connections_total counts the protocol seen on the first bytes', async (t) => {
  // a listener without routes reads the protocol from whichever side speaks first: here, always the client
  const { port, d, metrics } = await oneBackendDaemon(t, 'inspect_delay = "300ms"', true);
  const send = (bytes: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const c = net.connect({ host: '127.0.0.1', port }, () => c.write(bytes));
      c.on('data', () => c.end());
      c.on('close', () => resolve());
      c.on('error', reject);
    });
  await send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await send('SSH-2.0-OpenSSH_9.6\r\n');
  await waitFor(() => d.daemon.snapshot().listeners[0]!.active === 0, 5000, 'connections closed');
  const fams = await scrape(metrics.address!.port);
  const n = (protocol: string): number | undefined =>
    sampleValue(fams, 'netmon_protocol_connections_total', { listener: 'main', protocol });
  assert.deepEqual([n('http1'), n('ssh'), n('tls'), n('unknown')], [2, 1, 0, 0]);
});

test('per-source table metrics: sources tracked, and refusals by rate_limit', async (t) => {
  const { port, metrics } = await oneBackendDaemon(t, 'source_limits = { rate = 1, burst = 2 }');
  // one source (127.0.0.1), burst 2: two answered, the third refused
  const answers = [await firstLine(port), await firstLine(port), await firstLine(port)];
  assert.deepEqual(answers, ['b1', 'b1', null]);
  const fams = await scrape(metrics.address!.port);
  const l = { listener: 'main' };
  assert.equal(sampleValue(fams, 'netmon_listener_source_entries', l), 1);
  assert.equal(sampleValue(fams, 'netmon_listener_source_evictions_total', l), 0);
  assert.equal(sampleValue(fams, 'netmon_listener_source_untracked_total', l), 0);
  assert.equal(sampleValue(fams, 'netmon_listener_rejected_connections_total', { ...l, reason: 'rate_limit' }), 1);
});
