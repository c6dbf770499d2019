// Balancing over real sockets: exact round robin, weighted shares, exact counters
// with two workers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startNamedEcho, freePort, waitFor, whoAnswers, type TestServer } from '../helpers/servers.js';
import { startTestDaemon, simpleConfig } from '../helpers/daemon.js';

async function countAnswers(port: number, n: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const who = await whoAnswers(port);
    counts.set(who, (counts.get(who) ?? 0) + 1);
  }
  return counts;
}

async function withBackends<T>(names: string[], fn: (b: TestServer[]) => Promise<T>): Promise<T> {
  const backends = await Promise.all(names.map((n) => startNamedEcho(n)));
  try {
    return await fn(backends);
  } finally {
    await Promise.all(backends.map((b) => b.close()));
  }
}

test('round_robin: 3000 sequential connections over 3 backends give each 1000 (+-1), totals exact, both workers accept', async () => {
  await withBackends(['b1', 'b2', 'b3'], async (backends) => {
    const port = await freePort();
    const d = await startTestDaemon(
      simpleConfig({ listenPort: port, workers: 2, backends: backends.map((b) => ({ name: b.name, port: b.port })) }),
    );
    try {
      const counts = await countAnswers(port, 3000);
      for (const b of backends) {
        const n = counts.get(b.name) ?? 0;
        assert.ok(Math.abs(n - 1000) <= 1, `${b.name} got ${n}`);
      }
      // the table's counters are exact: per backend, and summed. With the native relay a
      // connection's connect is counted when its event reaches JavaScript, which can come
      // after the client has its answer: wait until the last connects are counted, then check
      await waitFor(
        () => d.daemon.snapshot().backends.reduce((a, b) => a + b.connections, 0) >= 3000,
        5000,
        'the last connects counted',
      );
      const snap = d.daemon.snapshot();
      const total = snap.backends.reduce((a, b) => a + b.connections, 0);
      assert.equal(total, 3000);
      for (const b of snap.backends) assert.equal(b.connections, counts.get(b.name));
      assert.equal(snap.listeners[0]!.accepted, 3000);
      const perWorker = snap.workers.map((w) => w.accepted);
      assert.equal(perWorker.length, 2);
      assert.ok(
        perWorker.every((n) => n > 0),
        `both workers accept: ${perWorker.join('/')}`,
      );
      assert.equal(
        perWorker.reduce((a, b) => a + b, 0),
        3000,
      );
    } finally {
      await d.stop();
    }
  });
});

test('weighted_round_robin 3:2:1 over 6000 connections: each share within 2% of its weight', async () => {
  await withBackends(['w3', 'w2', 'w1'], async (backends) => {
    const port = await freePort();
    const weights = [3, 2, 1];
    const d = await startTestDaemon(
      simpleConfig({
        listenPort: port,
        algorithm: 'weighted_round_robin',
        backends: backends.map((b, i) => ({ name: b.name, port: b.port, weight: weights[i] })),
      }),
    );
    try {
      const counts = await countAnswers(port, 6000);
      backends.forEach((b, i) => {
        const share = (counts.get(b.name) ?? 0) / 6000;
        const want = weights[i]! / 6;
        assert.ok(Math.abs(share - want) <= 0.02, `${b.name}: share ${share.toFixed(4)} want ${want.toFixed(4)}`);
      });
      // as above: the last connects are counted when their events reach JavaScript
      const counted = (): number => d.daemon.snapshot().backends.reduce((a, b) => a + b.connections, 0);
      await waitFor(() => counted() >= 6000, 5000, 'the last connects counted');
      assert.equal(counted(), 6000);
    } finally {
      await d.stop();
    }
  });
});

test('ip_hash: one client address always reaches the same backend; different addresses spread', async () => {
  await withBackends(['h1', 'h2', 'h3', 'h4'], async (backends) => {
    const port = await freePort();
    const d = await startTestDaemon(
      simpleConfig({
        listenPort: port,
        algorithm: 'ip_hash',
        backends: backends.map((b) => ({ name: b.name, port: b.port })),
      }),
    );
    try {
      const { connect } = await import('node:net');
      const ask = (localAddress: string): Promise<string> =>
        new Promise((resolve, reject) => {
          const c = connect({ host: '127.0.0.1', port, localAddress });
          c.setEncoding('utf8');
          let buf = '';
          c.on('data', (x: string) => {
            buf += x;
            if (buf.includes('\n')) {
              c.end();
              resolve(buf.split('\n')[0]!);
            }
          });
          c.on('error', reject);
        });
      const seen = new Set<string>();
      for (let i = 2; i < 42; i++) {
        const addr = `127.0.0.${i}`;
        const first = await ask(addr);
        for (let k = 0; k < 5; k++) assert.equal(await ask(addr), first, `${addr} moved`);
        seen.add(first);
      }
      assert.ok(seen.size >= 3, `40 addresses reached only ${[...seen].join(',')}`);
    } finally {
      await d.stop();
    }
  });
});
