// What a stop cuts is written down and counted, on a real `bin/netmon daemon`
// on both relays: when drain_timeout runs out, or at a second stop signal, every
// connection still open is reset (each client sees ECONNRESET), writes its
// access line with termination shutdown (the worker writes its lines before
// the thread ends), and one warning gives how many were cut and why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, startNamedEcho, waitFor } from '../helpers/servers.js';
import { startChildDaemon, type ChildDaemon } from '../systemd/child-daemon.js';
import { HeldConnection } from './reload-helpers.js';
import { refused } from './stop-helpers.js';
import { RELAY_PATHS, type RelayPath } from '../relay/harness.js';

const CLIENTS = 5;

type Line = Record<string, unknown>;

function lines(d: ChildDaemon): Line[] {
  return (
    d.stdout
      .join('')
      .split('\n')
      // the last piece is a line still on its way (or empty)
      .slice(0, -1)
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Line)
  );
}

async function withDaemon(
  path: RelayPath,
  drainTimeout: string,
  body: (port: number, d: ChildDaemon) => Promise<void>,
): Promise<void> {
  const b1 = await startNamedEcho('b1');
  const port = await freePort();
  const d = await startChildDaemon(
    (sock) =>
      [
        'workers = 2',
        `drain_timeout = "${drainTimeout}"`,
        '[data]',
        `relay = "${path}"`,
        '[metrics]',
        'listen = "off"',
        '[control]',
        `socket = ${JSON.stringify(sock)}`,
        '[log]',
        'level = "info"',
        'access = true',
        '[[listener]]',
        'name = "main"',
        `bind = "127.0.0.1:${port}"`,
        'pool = "web"',
        '[pool.web]',
        'health = { type = "none" }',
        'timeouts = { idle = "60s" }',
        '[[pool.web.backend]]',
        'name = "b1"',
        `address = "127.0.0.1:${b1.port}"`,
      ].join('\n') + '\n',
  );
  try {
    await body(port, d);
  } finally {
    await d.cleanup();
    await b1.close();
  }
}

/** Every held client was reset, and the daemon wrote one shutdown line for each and one warning with the count. */
async function assertCut(d: ChildDaemon, held: HeldConnection[], cause: string): Promise<void> {
  await Promise.all(held.map((h) => h.closed));
  // the process has exited; its last lines may still be on their way through the pipe
  await waitFor(() => lines(d).some((l) => l['msg'] === 'netmon stopped'), 5000, 'the last line');
  const codes = held.map((h) => (h.error as NodeJS.ErrnoException | null)?.code ?? 'clean end');
  assert.deepEqual(codes, Array<string>(CLIENTS).fill('ECONNRESET'), 'each client sees a reset');
  const all = lines(d);
  const shutdown = all.filter((l) => l['msg'] === 'access' && l['termination'] === 'shutdown');
  assert.equal(shutdown.length, CLIENTS, `one access line per client cut: ${JSON.stringify(shutdown)}`);
  for (const l of shutdown) {
    assert.equal(l['backend'], 'web/b1');
    assert.ok((l['bytes_in'] as number) > 0);
    assert.equal(l['bytes_out'], (l['bytes_in'] as number) + 'b1\n'.length, 'its bytes echoed, after the greeting');
  }
  const warnings = all.filter((l) => String(l['msg']).includes('open connection(s) cut with a reset'));
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  const w = warnings[0]!;
  assert.equal(w['level'], 'warn');
  assert.equal(w['connections'], CLIENTS);
  assert.equal(w['cause'], cause);
  const perWorker = Object.values(w['workers'] as Record<string, number>).reduce((a, b) => a + b, 0);
  assert.equal(perWorker, CLIENTS, 'per worker, the same count');
  // written before the thread ended, and before the process said it stopped
  const order = all.map((l) => l['msg']);
  assert.ok(order.lastIndexOf('access') < order.indexOf('netmon stopped'));
}

for (const path of RELAY_PATHS) {
  test(`${path}: drain_timeout runs out: each connection cut gets its access line, and one warning counts them`, async () => {
    await withDaemon(path, '1s', async (port, d) => {
      const held = await Promise.all(Array.from({ length: CLIENTS }, () => HeldConnection.open(port)));
      for (const [i, h] of held.entries()) await h.echo(`ping ${i}`);
      d.child.kill('SIGTERM');
      await waitFor(() => refused(port), 5000, 'the listener to stop accepting');
      // still relayed while draining
      for (const [i, h] of held.entries()) await h.echo(`draining ${i}`);
      assert.equal(await d.exited, 0);
      await assertCut(d, held, 'drain_timeout');
    });
  });

  test(`${path}: a second stop signal: each connection cut gets its access line, and one warning counts them`, async () => {
    await withDaemon(path, '30s', async (port, d) => {
      const held = await Promise.all(Array.from({ length: CLIENTS }, () => HeldConnection.open(port)));
      for (const [i, h] of held.entries()) await h.echo(`ping ${i}`);
      d.child.kill('SIGTERM');
      await waitFor(() => refused(port), 5000, 'the listener to stop accepting');
      for (const [i, h] of held.entries()) await h.echo(`draining ${i}`);
      const start = Date.now();
      d.child.kill('SIGTERM');
      assert.equal(await d.exited, 0);
      assert.ok(Date.now() - start < 5000, 'did not wait for drain_timeout');
      await assertCut(d, held, 'second_signal');
    });
  });
}
