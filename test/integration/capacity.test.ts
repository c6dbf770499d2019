// Backups, max_connections and the queue, over real sockets: what a client sees
// when primaries go away or fill up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startNamedEcho, deadPort, freePort, whoAnswers, waitFor } from '../helpers/servers.js';
import { startTestDaemon, simpleConfig } from '../helpers/daemon.js';

/** Opens a connection and resolves with the socket and the greeting once it arrives. */
function hold(port: number): Promise<{ sock: net.Socket; who: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.setEncoding('utf8');
    sock.once('data', (x: string) => resolve({ sock, who: x.trim() }));
    sock.on('error', reject);
    setTimeout(() => reject(new Error('no greeting within 5 s')), 5000).unref();
  });
}

test('a backup serves only when no primary is eligible, and hands back when one returns', async () => {
  const p1 = await startNamedEcho('p1');
  const p2 = await startNamedEcho('p2');
  const bk = await startNamedEcho('bk');
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({
      listenPort: port,
      backends: [
        { name: 'p1', port: p1.port },
        { name: 'p2', port: p2.port },
        { name: 'bk', port: bk.port, backup: true },
      ],
    }),
  );
  try {
    for (let i = 0; i < 20; i++) assert.notEqual(await whoAnswers(port), 'bk');
    d.daemon.setState('web/p1', 'maint');
    for (let i = 0; i < 10; i++) assert.equal(await whoAnswers(port), 'p2', 'one primary left: no backup yet');
    d.daemon.setState('web/p2', 'drain');
    for (let i = 0; i < 10; i++) assert.equal(await whoAnswers(port), 'bk');
    d.daemon.setState('web/p2', 'ready');
    for (let i = 0; i < 10; i++) assert.equal(await whoAnswers(port), 'p2');
  } finally {
    await d.stop();
    await Promise.all([p1.close(), p2.close(), bk.close()]);
  }
});

test('retries go to the backup once every eligible primary refused: no client fails', async () => {
  // both primaries refuse; health checks are off, so only passive ejection can mark them down,
  // and its cap (max_ejected_share 0.5 of 3) keeps one of them up throughout
  const bk = await startNamedEcho('bk');
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({
      listenPort: port,
      backends: [
        { name: 'p1', port: await deadPort() },
        { name: 'p2', port: await deadPort() },
        { name: 'bk', port: bk.port, backup: true },
      ],
    }),
  );
  try {
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) answers.push(await whoAnswers(port, 3000).catch((e: Error) => e.message));
    assert.deepEqual(answers, Array<string>(20).fill('bk'));
    const snap = d.daemon.snapshot();
    const primaries = snap.backends.filter((b) => b.name !== 'bk');
    assert.ok(
      primaries.some((b) => b.op === 'up'),
      'a refusing primary stayed up (the ejection cap): retries went past it',
    );
    const refused = primaries.reduce((n, b) => n + b.connectErrors.refused, 0);
    assert.ok(refused >= 20, `every client tried a primary first (${refused} refused connects)`);
  } finally {
    await d.stop();
    await bk.close();
  }
});

test('max_connections: a full backend is skipped; with every backend full the client is refused and counted', async () => {
  const a = await startNamedEcho('a');
  const b = await startNamedEcho('b');
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({
      listenPort: port,
      backends: [
        { name: 'a', port: a.port, maxConnections: 1 },
        { name: 'b', port: b.port, maxConnections: 2 },
      ],
    }),
  );
  const held: net.Socket[] = [];
  try {
    const got = [];
    for (let i = 0; i < 3; i++) {
      const h = await hold(port);
      held.push(h.sock);
      got.push(h.who);
    }
    assert.deepEqual(got.sort(), ['a', 'b', 'b']);
    const snap = d.daemon.snapshot();
    assert.deepEqual(
      snap.backends.map((x) => x.active),
      [1, 2],
    );
    // the fourth finds every backend full and no queue: closed without a byte
    const closed = await new Promise<string>((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port });
      let data = '';
      c.on('data', (x) => (data += x.toString()));
      c.on('close', () => resolve(data));
      c.on('error', () => {});
    });
    assert.equal(closed, '');
    await waitFor(
      () => (d.daemon.snapshot().listeners[0]!.rejected['max_connections'] ?? 0) >= 1,
      3000,
      'rejection counted as max_connections',
    );
  } finally {
    for (const s of held) s.destroy();
    await d.stop();
    await Promise.all([a.close(), b.close()]);
  }
});

test('queue: with every backend full, a connection waits for a slot; past timeouts.queue it is refused', async () => {
  const a = await startNamedEcho('a');
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({
      listenPort: port,
      extraPool: 'queue_size = 1',
      backends: [{ name: 'a', port: a.port, maxConnections: 1 }],
    }).replace('connect = "1s"', 'connect = "1s", queue = "2s"'),
  );
  try {
    const first = await hold(port);
    // the second waits in the queue until the first closes
    const second = hold(port);
    await waitFor(() => d.daemon.snapshot().pools[0]!.queued === 1, 3000, 'second connection queued');
    first.sock.destroy();
    const s = await second;
    assert.equal(s.who, 'a');
    // a third, queued behind a connection that stays open, times out
    const started = Date.now();
    const closed = await new Promise<string>((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port });
      let data = '';
      c.on('data', (x) => (data += x.toString()));
      c.on('close', () => resolve(data));
      c.on('error', () => {});
    });
    assert.equal(closed, '');
    assert.ok(Date.now() - started >= 1800, `refused after ${Date.now() - started} ms`);
    await waitFor(
      () => (d.daemon.snapshot().listeners[0]!.rejected['queue_timeout'] ?? 0) >= 1,
      3000,
      'queue timeout counted',
    );
    s.sock.destroy();
  } finally {
    await d.stop();
    await a.close();
  }
});
