// The access log says why no backend served a connection, with the catalog's
// codes (docs/errors.md): the last failed connect (refused, timed out), a pool
// with every backend full, a queue wait past timeouts.queue; null once served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startChildDaemon } from '../systemd/child-daemon.js';
import { hangingPort } from '../health/net-helpers.js';
import { deadPort, freePort, startNamedEcho, waitFor } from '../helpers/servers.js';

/** Connects and resolves once netmon closes the connection, with what the client was sent. */
function untilClosed(port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
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

test('access lines carry the error code of why no backend served the connection', async (t) => {
  const hung = await hangingPort();
  const echo = await startNamedEcho('e');
  const refusedPort = await deadPort();
  const ports = { refused: await freePort(), hung: await freePort(), full: await freePort(), queued: await freePort() };
  const listeners = Object.entries(ports).flatMap(([name, port]) => [
    '[[listener]]',
    `name = "${name}"`,
    `bind = "127.0.0.1:${port}"`,
    `pool = "${name}"`,
  ]);
  const pool = (name: string, port: number, extra: string[], backend: string[] = []): string[] => [
    `[pool.${name}]`,
    'health = { type = "none" }',
    ...extra,
    `[[pool.${name}.backend]]`,
    'name = "b"',
    `address = "127.0.0.1:${port}"`,
    ...backend,
  ];
  const d = await startChildDaemon((sock) =>
    [
      'workers = 1',
      '[metrics]\nlisten = "off"',
      `[control]\nsocket = ${JSON.stringify(sock)}`,
      '[log]\nlevel = "info"\naccess = true',
      ...listeners,
      ...pool('refused', refusedPort, ['retries = 1', 'timeouts = { connect = "200ms" }']),
      ...pool('hung', hung.port, ['retries = 0', 'timeouts = { connect = "200ms" }']),
      ...pool('full', echo.port, ['retries = 0'], ['max_connections = 1']),
      ...pool(
        'queued',
        echo.port,
        ['retries = 0', 'queue_size = 1', 'timeouts = { queue = "200ms" }'],
        ['max_connections = 1'],
      ),
      '',
    ].join('\n'),
  );
  t.after(async () => {
    await d.cleanup();
    await hung.close();
    await echo.close();
  });
  const access = (): Record<string, unknown>[] =>
    d.stdout
      .join('')
      .split('\n')
      .filter((l) => l.includes('"msg":"access"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const lineOf = async (listener: string): Promise<Record<string, unknown>> => {
    await waitFor(() => access().some((l) => l['listener'] === listener), 5000, `the access line of ${listener}`);
    return access().find((l) => l['listener'] === listener)!;
  };

  // the only backend refuses the first connect and the retry (after the 200 ms turnaround): the connects failed
  assert.equal(await untilClosed(ports.refused), '');
  assert.deepEqual(pick(await lineOf('refused')), {
    termination: 'connect_failed',
    error: 'E_CONNECT_REFUSED',
    attempts: 2,
  });

  assert.equal(await untilClosed(ports.hung), '');
  assert.deepEqual(pick(await lineOf('hung')), {
    termination: 'connect_failed',
    error: 'E_CONNECT_TIMEOUT',
    attempts: 1,
  });

  // one connection holds each pool's only slot (max_connections = 1)
  const holdFull = await served(ports.full);
  assert.equal(await untilClosed(ports.full), '');
  assert.deepEqual(pick(await lineOf('full')), { termination: 'rejected', error: 'E_NO_BACKEND', attempts: 0 });
  holdFull.destroy();

  const holdQueued = await served(ports.queued);
  assert.equal(await untilClosed(ports.queued), '');
  assert.deepEqual(pick(await lineOf('queued')), {
    termination: 'queue_timeout',
    error: 'E_QUEUE_TIMEOUT',
    attempts: 0,
  });
  holdQueued.destroy();

  // the connections that were served close without an error
  await waitFor(() => access().filter((l) => l['backend'] !== null).length === 2, 5000, 'the served lines');
  for (const l of access().filter((x) => x['backend'] !== null)) {
    assert.deepEqual(pick(l), { termination: 'client_close', error: null, attempts: 1 });
  }
});

function pick(l: Record<string, unknown>): Record<string, unknown> {
  return { termination: l['termination'], error: l['error'], attempts: l['attempts'] };
}
