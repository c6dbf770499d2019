// SIGTERM / SIGINT on a real `bin/netmon daemon` process: it stops accepting,
// lets open connections finish (up to drain_timeout), exits 0; a second signal
// stops it at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { freePort, startNamedEcho, waitFor, type TestServer } from '../helpers/servers.js';
import { childConfig, startChildDaemon, type ChildDaemon } from '../systemd/child-daemon.js';
import { HeldConnection } from './reload-helpers.js';

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port }, () => {
      c.destroy();
      resolve(false);
    });
    c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

async function setup(drainTimeout: string): Promise<{ b1: TestServer; port: number; d: ChildDaemon }> {
  const b1 = await startNamedEcho('b1');
  const port = await freePort();
  const d = await startChildDaemon((sock) =>
    childConfig({ sock, listenPort: port, drainTimeout, backends: [{ name: 'b1', port: b1.port }] }),
  );
  return { b1, port, d };
}

test('SIGTERM waits for an open relayed connection, then exits 0', async () => {
  const { b1, port, d } = await setup('20s');
  try {
    const held = await HeldConnection.open(port);
    d.child.kill('SIGTERM');
    await waitFor(() => refused(port), 5000, 'the listener to stop accepting');
    // still relaying while draining
    await held.echo('draining');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(d.child.exitCode, null, 'the daemon waits for the open connection');
    await held.echo('still draining');
    const start = Date.now();
    held.end();
    assert.equal(await d.exited, 0);
    assert.ok(Date.now() - start < 5000, 'exits soon after the last connection ends');
    assert.equal(held.error, null, 'the connection ended cleanly');
  } finally {
    await d.cleanup();
    await b1.close();
  }
});

test('drain_timeout bounds the wait: a connection that stays open is closed, exit 0', async () => {
  const { b1, port, d } = await setup('1s');
  try {
    const held = await HeldConnection.open(port);
    const start = Date.now();
    d.child.kill('SIGINT');
    assert.equal(await d.exited, 0);
    const took = Date.now() - start;
    assert.ok(took >= 900 && took < 6000, `stopped after drain_timeout (took ${took} ms)`);
    await held.closed;
  } finally {
    await d.cleanup();
    await b1.close();
  }
});

test('a second signal stops at once', async () => {
  const { b1, port, d } = await setup('30s');
  try {
    const held = await HeldConnection.open(port);
    d.child.kill('SIGTERM');
    await waitFor(() => refused(port), 5000, 'the listener to stop accepting');
    const start = Date.now();
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    assert.ok(Date.now() - start < 5000, 'did not wait for drain_timeout');
    await held.closed;
  } finally {
    await d.cleanup();
    await b1.close();
  }
});

test('a second signal resets every stream it cuts: each client sees ECONNRESET, not a clean end', async () => {
  const { b1, port, d } = await setup('30s');
  try {
    const held = await Promise.all(Array.from({ length: 20 }, () => HeldConnection.open(port)));
    d.child.kill('SIGTERM');
    await waitFor(() => refused(port), 5000, 'the listener to stop accepting');
    for (const h of held) await h.echo('still draining');
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    await Promise.all(held.map((h) => h.closed));
    const codes = held.map((h) => (h.error as NodeJS.ErrnoException | null)?.code ?? 'clean end');
    assert.deepEqual(codes, Array<string>(20).fill('ECONNRESET'));
  } finally {
    await d.cleanup();
    await b1.close();
  }
});
