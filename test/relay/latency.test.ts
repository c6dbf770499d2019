// What the relay measures and sends besides the bytes, on every relay path:
// connect and first-byte latencies (the histograms and the moving averages
// least_response_time reads), and the PROXY header a pool sends first.
import { test } from 'node:test';
import net from 'node:net';
import { assert, RELAY_PATHS, allClosed, startRelay } from './harness.js';
import { startNamedEcho, whoAnswers } from '../helpers/servers.js';
import { startProxyBackend } from '../edge/helpers.js';
import { Histogram, LATENCY_BUCKETS } from '../../daemon/state/names.js';

for (const path of RELAY_PATHS) {
  test(`${path}: connect and first-byte latency: one sample per connection, the backend's delay in the first byte`, async () => {
    const slow = await startNamedEcho('slow', 0, { greetDelayMs: 60 });
    const r = await startRelay(path, [{ name: 'slow', port: slow.port }]);
    try {
      for (let i = 0; i < 10; i++) assert.equal(await whoAnswers(r.port), 'slow');
      await allClosed(r.d);
      const table = r.d.daemon.table;
      const b = r.d.daemon.snapshot().backends[0]!;
      assert.equal(b.connections, 10);
      // the histograms (summed over the workers' stripes): 10 samples each
      let slot = 0;
      while (table.backendStats.counters(slot).connections !== 10) slot++;
      const count = (h: Histogram): number => table.backendStats.histogram(slot, h).count;
      assert.equal(count(Histogram.Connect), 10);
      assert.equal(count(Histogram.FirstByte), 10);
      assert.equal(count(Histogram.Duration), 10);
      // the backend waits 60 ms before its first byte; a loopback connect takes well under that
      assert.ok(b.ewmaFirstByteMs >= 55, `first byte ${b.ewmaFirstByteMs} ms`);
      assert.ok(b.ewmaConnectMs < 50, `connect ${b.ewmaConnectMs} ms`);
      const fb = table.backendStats.histogram(slot, Histogram.FirstByte);
      assert.equal(
        fb.counts.slice(0, LATENCY_BUCKETS.indexOf(0.05) + 1).reduce((a, n) => a + n, 0),
        0,
        'a first byte under 50 ms',
      );
      assert.ok(fb.sum / fb.count >= 0.055, `first byte mean ${fb.sum / fb.count} s`);
    } finally {
      await r.stop();
      await slow.close();
    }
  });

  for (const version of ['v1', 'v2']) {
    test(`${path}: send_proxy ${version}: the backend gets the header first, with the client's address and port`, async () => {
      const backend = await startProxyBackend();
      const r = await startRelay(path, [{ name: 'p', port: backend.port }], { pool: `send_proxy = "${version}"` });
      try {
        const got = await new Promise<{ line: string; localPort: number; echoed: string }>((resolve, reject) => {
          const c = net.connect({ host: '127.0.0.1', port: r.port });
          let localPort = 0;
          let text = '';
          c.on('connect', () => {
            localPort = c.localPort!;
            c.write('ping\n');
          });
          c.setEncoding('utf8');
          c.on('data', (s: string) => {
            text += s;
            const lines = text.split('\n');
            if (lines.length < 3) return;
            c.destroy();
            resolve({ line: lines[0]!, localPort, echoed: lines[1]! });
          });
          c.on('error', reject);
        });
        assert.equal(got.line, `src 127.0.0.1 ${got.localPort}`);
        assert.equal(got.echoed, 'ping');
        const h = backend.headers.at(-1)!;
        assert.equal(h.version, version === 'v1' ? 1 : 2);
        assert.equal(h.destination?.port, r.port);
      } finally {
        await r.stop();
        await backend.close();
      }
    });
  }
}
