// least_response_time over real sockets: three identical simulated HTTP backends
// (20 ms to answer, so the scheduling noise of a busy test machine stays small
// next to it) behind a daemon with two workers, four clients at 40 connections a
// second (one TCP connection per request, so every request is a pick). The first
// connection to each backend is a cold one; b1 then slows to 100 ms and recovers.
// Every backend keeps or gets back its share, and alike backends split evenly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBackends, type SimBackend } from '../../backends/index.js';
import { runTraffic } from '../../bench/traffic/index.js';
import { freePort } from '../helpers/servers.js';
import { startTestDaemon, simpleConfig } from '../helpers/daemon.js';

/** `n` requests from four clients at 40/s; answers per backend name. */
async function load(port: number, n: number): Promise<Record<string, number>> {
  const s = await runTraffic({
    target: `127.0.0.1:${port}`,
    mode: 'tcp',
    requests: n,
    rate: 40,
    concurrent: 4,
    timeoutMs: 5000,
    progress: 'none',
  });
  assert.equal(s.errors, 0, `errors: ${JSON.stringify(s.errorsByKind)}`);
  return s.distribution;
}

const shareOf = (d: Record<string, number>, name: string, among = ['b1', 'b2', 'b3']): number =>
  (d[name] ?? 0) / among.reduce((a, k) => a + (d[k] ?? 0), 0);

test('least_response_time: a backend that slowed down and recovered gets traffic again; alike backends split evenly', async () => {
  const backends: SimBackend[] = await startBackends(3, { mode: 'http' });
  for (const b of backends) await b.setBehaviour({ latency: '20ms' });
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({
      listenPort: port,
      algorithm: 'least_response_time',
      backends: backends.map((b) => ({ name: b.name, port: b.port })),
    }),
  );
  try {
    // Bounds: a share of n picks at p has a standard deviation sqrt(p(1-p)/n);
    // each bound below is at least four of them away from the even share.
    await load(port, 160); // the first connections through each worker are cold ones
    const first = await load(port, 300);
    for (const b of ['b1', 'b2', 'b3']) {
      const s = shareOf(first, b);
      assert.ok(s > 0.22 && s < 0.45, `${b}: ${s.toFixed(3)} of the 300 after the first (${JSON.stringify(first)})`);
    }

    await backends[0]!.setBehaviour({ latency: '100ms' });
    await load(port, 80); // 2 s for the estimates to see it
    const slow = await load(port, 320);
    // b1 gets the exploring probes only: at most one a second per worker
    assert.ok(shareOf(slow, 'b1') < 0.1, `b1 while slow: ${JSON.stringify(slow)}`);
    const b2 = shareOf(slow, 'b2', ['b2', 'b3']);
    assert.ok(b2 > 0.38 && b2 < 0.62, `b2/b3 while b1 is slow: ${JSON.stringify(slow)}`);

    await backends[0]!.setBehaviour({ latency: '20ms' });
    await load(port, 200); // 5 s for probes to find it recovered
    const after = await load(port, 400);
    for (const b of ['b1', 'b2', 'b3']) {
      const s = shareOf(after, b);
      assert.ok(s > 0.24 && s < 0.43, `${b}: ${s.toFixed(3)} after b1 recovered (${JSON.stringify(after)})`);
    }
  } finally {
    await d.stop();
    await Promise.all(backends.map((b) => b.stop()));
  }
});
