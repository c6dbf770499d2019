// SIGTERM / SIGINT on a real `bin/netmon daemon` process: it stops accepting,
// lets open connections finish (up to drain_timeout), exits 0; a second signal
// stops it at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/servers.js';
import { HeldConnection } from './reload-helpers.js';
import { refused, withStoppable } from './stop-helpers.js';

test('SIGTERM waits for an open relayed connection, then exits 0', async () => {
  await withStoppable({ drainTimeout: '20s' }, async ({ port, d }) => {
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
  });
});

test('drain_timeout bounds the wait: a connection that stays open is closed, exit 0', async () => {
  await withStoppable({ drainTimeout: '1s' }, async ({ port, d }) => {
    const held = await HeldConnection.open(port);
    const start = Date.now();
    d.child.kill('SIGINT');
    assert.equal(await d.exited, 0);
    const took = Date.now() - start;
    assert.ok(took >= 900 && took < 6000, `stopped after drain_timeout (took ${took} ms)`);
    await held.closed;
  });
});

test('a second signal stops at once', async () => {
  await withStoppable({ drainTimeout: '30s' }, async ({ port, d }) => {
    const held = await HeldConnection.open(port);
    d.child.kill('SIGTERM');
    await waitFor(() => refused(port), 5000, 'the listener to stop accepting');
    const start = Date.now();
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    assert.ok(Date.now() - start < 5000, 'did not wait for drain_timeout');
    await held.closed;
  });
});

test('a second signal resets every stream it cuts: each client sees ECONNRESET, not a clean end', async () => {
  await withStoppable({ drainTimeout: '30s' }, async ({ port, d }) => {
    const held = await Promise.all(Array.from({ length: 20 }, () => HeldConnection.open(port)));
    d.child.kill('SIGTERM');
    await waitFor(() => refused(port), 5000, 'the listener to stop accepting');
    for (const h of held) await h.echo('still draining');
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    await Promise.all(held.map((h) => h.closed));
    const codes = held.map((h) => (h.error as NodeJS.ErrnoException | null)?.code ?? 'clean end');
    assert.deepEqual(codes, Array<string>(20).fill('ECONNRESET'));
  });
});
