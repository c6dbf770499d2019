// A listener's timeouts.client_idle over real sockets: a silent client is closed
// after it, an active one is not, and beside the pool's idle timeout the shorter
// of the two ends a connection (the access line says which).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startChildDaemon } from '../systemd/child-daemon.js';
import { freePort, startNamedEcho, waitFor } from '../helpers/servers.js';

/** Connects, reads the greeting, then stays silent; resolves with the ms from connect to netmon's close. */
function silent(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const c = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => reject(new Error(`port ${port}: not closed within 10 s`)), 10_000);
    c.on('error', () => {});
    c.resume();
    c.on('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - started);
    });
  });
}

test('timeouts.client_idle closes a silent client; the pool’s idle still applies when shorter', async (t) => {
  const echo = await startNamedEcho('e');
  const ports = { short: await freePort(), plain: await freePort(), long: await freePort() };
  const clientIdle: Record<keyof typeof ports, string> = { short: '300ms', plain: '0s', long: '10s' };
  const d = await startChildDaemon((sock) =>
    [
      'workers = 1',
      '[metrics]\nlisten = "off"',
      `[control]\nsocket = ${JSON.stringify(sock)}`,
      '[log]\nlevel = "info"\naccess = true',
      ...Object.entries(ports).flatMap(([name, port]) => [
        '[[listener]]',
        `name = "${name}"`,
        `bind = "127.0.0.1:${port}"`,
        'pool = "web"',
        `timeouts = { client_idle = "${clientIdle[name as keyof typeof ports]}" }`,
      ]),
      '[pool.web]',
      'health = { type = "none" }',
      'timeouts = { idle = "1500ms" }',
      '[[pool.web.backend]]',
      'name = "e"',
      `address = "127.0.0.1:${echo.port}"`,
      '',
    ].join('\n'),
  );
  t.after(async () => {
    await d.cleanup();
    await echo.close();
  });
  const access = (listener: string): Record<string, unknown>[] =>
    d.stdout
      .join('')
      .split('\n')
      .filter((l) => l.includes('"msg":"access"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['listener'] === listener);

  // an active client on the short listener: a byte every 100 ms for 1 s is never idle for 300 ms
  const active = net.connect({ host: '127.0.0.1', port: ports.short });
  let echoed = '';
  active.setEncoding('utf8');
  active.on('data', (x: string) => (echoed += x));
  let activeClosed = false;
  active.on('close', () => (activeClosed = true));
  const talk = async (): Promise<void> => {
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 100));
      active.write('x');
    }
    await waitFor(() => echoed.length === 12, 3000, 'the echoes');
    assert.equal(activeClosed, false, 'the active client is still connected');
    active.end();
    await waitFor(() => activeClosed, 3000, 'the active client closed');
  };
  const [short, plain, long] = await Promise.all([
    silent(ports.short),
    silent(ports.plain),
    silent(ports.long),
    talk(),
  ]);
  assert.equal(echoed, 'e\n' + 'x'.repeat(10));

  assert.ok(short >= 290, `closed after client_idle: ${short} ms`);
  assert.ok(plain >= 1490 && long >= 1490, `closed after the pool's idle: ${plain} ms, ${long} ms`);
  await waitFor(
    () => access('short').length === 2 && access('plain').length === 1 && access('long').length === 1,
    5000,
    'the access lines',
  );
  assert.deepEqual(
    access('short')
      .map((l) => l['termination'])
      .sort(),
    ['client_close', 'client_idle_timeout'],
  );
  assert.equal(access('plain')[0]!['termination'], 'idle_timeout');
  assert.equal(access('long')[0]!['termination'], 'idle_timeout', 'the pool’s shorter idle ends it first');
});
