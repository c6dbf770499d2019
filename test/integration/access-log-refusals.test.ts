// Refused connections are in the access log, over real sockets: one line each
// for allow/deny, a rate limit, a per-source limit, a bad PROXY header, a full
// listener and a disabled one, with the reason the rejection metric counts it
// under; and a flood of refusals is bounded per worker, the rest counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startChildDaemon } from '../systemd/child-daemon.js';
import { freePort, startNamedEcho, waitFor } from '../helpers/servers.js';
import { REFUSAL_LINES_PER_SECOND } from '../../daemon/data/access-log.js';
import type { ListenerSnapshot, Snapshot } from '../../daemon/control/snapshot/snapshot.js';

/** Connects, sends `send` if given, and resolves once netmon closes the connection, with what came back. */
function untilClosed(port: number, send?: string): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port }, () => send !== undefined && c.write(send));
    let data = '';
    c.on('data', (d) => (data += d.toString()));
    c.on('error', () => {});
    c.on('close', () => resolve(data));
  });
}

/** Connects and resolves with the socket once the backend's greeting arrived. */
function served(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.once('data', () => resolve(c));
    c.on('error', reject);
  });
}

const LISTENERS: Record<string, string[]> = {
  acl: ['deny = ["127.0.0.0/8"]'],
  rate: ['source_limits = { rate = 0.01, burst = 1 }'],
  persource: ['source_limits = { max_connections = 1 }'],
  proxy: ['proxy_protocol = "v1"', 'trusted_proxies = ["127.0.0.1/32"]'],
  full: ['max_connections = 1'],
  off: [],
  flood: ['deny = ["127.0.0.0/8"]'],
};

test('every refused connection has an access line with the reason its rejection was counted under', async (t) => {
  const echo = await startNamedEcho('e');
  const ports: Record<string, number> = {};
  for (const name of Object.keys(LISTENERS)) ports[name] = await freePort();
  const d = await startChildDaemon((sock) =>
    [
      'workers = 1',
      '[metrics]\nlisten = "off"',
      `[control]\nsocket = ${JSON.stringify(sock)}`,
      '[log]\nlevel = "info"\naccess = true',
      ...Object.entries(LISTENERS).flatMap(([name, lines]) => [
        '[[listener]]',
        `name = "${name}"`,
        `bind = "127.0.0.1:${ports[name]}"`,
        'pool = "web"',
        ...lines,
      ]),
      '[pool.web]\nhealth = { type = "none" }',
      `[[pool.web.backend]]\nname = "e"\naddress = "127.0.0.1:${echo.port}"`,
      '',
    ].join('\n'),
  );
  t.after(async () => {
    await d.cleanup();
    await echo.close();
  });
  const lines = (msg: string): Record<string, unknown>[] =>
    d.stdout
      .join('')
      .split('\n')
      .filter((l) => l.includes(`"msg":"${msg}"`))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const access = (listener: string): Record<string, unknown>[] =>
    lines('access').filter((l) => l['listener'] === listener);

  assert.equal(await untilClosed(ports['acl']!), '');
  const rateOk = await served(ports['rate']!);
  assert.equal(await untilClosed(ports['rate']!), '', 'the second within the same second');
  const perSource = await served(ports['persource']!);
  assert.equal(await untilClosed(ports['persource']!), '');
  assert.equal(await untilClosed(ports['proxy']!, 'PROXY NONSENSE\r\n'), '');
  const full = await served(ports['full']!);
  assert.equal(await untilClosed(ports['full']!), '');
  await d.ctl('disable-listener', { listener: 'off' });
  assert.equal(await untilClosed(ports['off']!), '');
  for (const s of [rateOk, perSource, full]) s.destroy();

  const want: Record<string, string> = {
    acl: 'acl',
    rate: 'rate_limit',
    persource: 'max_connections',
    proxy: 'proxy_header',
    full: 'max_connections',
    off: 'disabled',
  };
  await waitFor(
    () => Object.keys(want).every((l) => access(l).filter((x) => x['reason'] !== null).length === 1),
    5000,
    'a refusal line on every listener',
  );
  const snap = (await d.ctl('show-listeners')) as ListenerSnapshot[];
  for (const [listener, reason] of Object.entries(want)) {
    const line = access(listener).find((x) => x['reason'] !== null)!;
    assert.deepEqual(
      {
        reason: line['reason'],
        termination: line['termination'],
        pool: line['pool'],
        backend: line['backend'],
        error: line['error'],
        client: line['client'],
      },
      { reason, termination: 'rejected', pool: null, backend: null, error: null, client: '127.0.0.1' },
      listener,
    );
    // the same reason the metric counted
    const counted = snap.find((l) => l.name === listener)!.rejected;
    assert.deepEqual(
      Object.entries(counted).filter(([, n]) => n > 0),
      [[reason, 1]],
      `${listener}: netmon_listener_rejected_connections_total`,
    );
  }

  // A flood of refusals: lines up to the worker's rate, the rest counted, and said so.
  const FLOOD = 3 * REFUSAL_LINES_PER_SECOND;
  const started = performance.now();
  for (let i = 0; i < FLOOD; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, FLOOD - i) }, () => untilClosed(ports['flood']!)));
  }
  const seconds = (performance.now() - started) / 1000;
  const suppressedSum = (): number =>
    lines('access refusals suppressed').reduce((n, l) => n + (l['suppressed'] as number), 0);
  await waitFor(
    () => access('flood').length + suppressedSum() === FLOOD,
    5000,
    'every flood refusal written or reported as suppressed',
  );
  const written = access('flood').length;
  assert.ok(written < FLOOD, `some lines suppressed (${written} written)`);
  assert.ok(
    written <= REFUSAL_LINES_PER_SECOND * (1 + seconds) + 1,
    `${written} lines in ${seconds.toFixed(2)} s: at most the burst and the rate`,
  );
  for (const l of lines('access refusals suppressed')) assert.deepEqual(Object.keys(l['reasons'] as object), ['acl']);
  const { workers } = (await d.ctl('show-stats')) as Snapshot;
  assert.equal(workers[0]!.accessSuppressed, suppressedSum(), 'netmon_worker_access_refusals_suppressed_total');
});
