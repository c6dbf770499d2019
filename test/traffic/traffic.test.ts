import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { startBackend, startBackends, type SimBackend } from '../../backends/index.js';
import { formatSummary, runTraffic } from '../../bench/traffic/index.js';

let b: SimBackend;
before(async () => {
  b = await startBackend({ name: 'tg1' });
});
after(() => b.stop());

const quiet = { progress: 'none' as const };

test('HTTP run: counts, status codes, distribution and percentiles add up', async () => {
  const before = b.stats().requests;
  const s = await runTraffic({ target: `127.0.0.1:${b.port}`, requests: 300, concurrent: 8, ...quiet });
  assert.equal(s.requests, 300);
  assert.equal(s.ok, 300);
  assert.equal(s.errors, 0);
  assert.deepEqual(s.statusCodes, { '200': 300 });
  assert.deepEqual(s.distribution, { tg1: 300 });
  assert.equal(b.stats().requests - before, 300, 'the backend saw exactly that many');
  const l = s.latencyMs;
  assert.ok(l.min <= l.p50 && l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max, JSON.stringify(l));
  assert.ok(s.rate > 0);
  assert.equal(
    s.histogram.reduce((n, x) => n + x.count, 0),
    300,
  );
  const text = formatSummary(s);
  assert.match(text, /requests\s+300 in/);
  assert.match(text, /p50 [\d.]+\s+p95 [\d.]+\s+p99 [\d.]+/);
  assert.match(text, /errors\s+0/);
});

test('HTTP errors are counted by kind and the even error spread gives an exact count', async () => {
  const f = await startBackend({ name: 'tgf', behaviour: { errorRate: 0.2, errorSpread: 'even' } });
  try {
    const s = await runTraffic({ target: `127.0.0.1:${f.port}`, requests: 100, concurrent: 4, ...quiet });
    assert.equal(s.requests, 100);
    assert.equal(s.errors, 20);
    assert.equal(s.ok, 80);
    assert.deepEqual(s.errorsByKind, { http_500: 20 });
    assert.match(formatSummary(s), /errors\s+20 \(20\.0%\): http_500 20/);
  } finally {
    await f.stop();
  }
});

test('TCP mode: one connection per request, replies parsed, distribution over two backends', async () => {
  const two = await startBackends(2, { prefix: 'tt' });
  // a round-robin front made of a plain pipe would need a proxy: load each backend directly
  try {
    for (const x of two) {
      const s = await runTraffic({ target: `127.0.0.1:${x.port}`, mode: 'tcp', requests: 40, concurrent: 5, ...quiet });
      assert.equal(s.ok, 40);
      assert.deepEqual(s.distribution, { [x.name]: 40 });
      assert.equal(x.stats().connectionsTotal, 40);
    }
  } finally {
    await Promise.all(two.map((x) => x.stop()));
  }
});

test('TCP mode against an echo backend with --read-bytes', async () => {
  const e = await startBackend({ name: 'tge', mode: 'echo' });
  try {
    const s = await runTraffic({
      target: `127.0.0.1:${e.port}`,
      mode: 'tcp',
      requests: 30,
      concurrent: 3,
      tcpPayload: 'x'.repeat(100),
      tcpReadBytes: 100,
      ...quiet,
    });
    assert.equal(s.ok, 30);
    assert.equal(s.bytesRead, 3000);
  } finally {
    await e.stop();
  }
});

test('HTTP with a new connection per request: every request opens its own connection', async () => {
  const before = b.stats().connectionsTotal;
  const s = await runTraffic({
    target: `127.0.0.1:${b.port}`,
    requests: 60,
    concurrent: 4,
    newConnection: true,
    path: '/api/data',
    ...quiet,
  });
  assert.equal(s.ok, 60);
  assert.deepEqual(s.statusCodes, { '200': 60 });
  assert.equal(b.stats().connectionsTotal - before, 60);
  assert.ok(s.bytesRead > 60 * 1024, 'the body came back too');
});

test('rate mode paces requests', async () => {
  const t0 = performance.now();
  const s = await runTraffic({ target: `127.0.0.1:${b.port}`, requests: 30, concurrent: 3, rate: 100, ...quiet });
  const took = performance.now() - t0;
  assert.equal(s.ok, 30);
  // 30 requests at 100/s cannot finish in much under 0.3 s
  assert.ok(took >= 250, `took ${took}ms`);
  assert.ok(s.rate <= 130, `rate ${s.rate}`);
});

test('a refused target: every request is an error of kind refused', async () => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const s = await runTraffic({ target: `127.0.0.1:${port}`, mode: 'tcp', requests: 10, concurrent: 2, ...quiet });
  assert.equal(s.ok, 0);
  assert.equal(s.errors, 10);
  assert.deepEqual(s.errorsByKind, { refused: 10 });
});

test('a duration bounds a run that has no count', async () => {
  const s = await runTraffic({ target: `127.0.0.1:${b.port}`, durationMs: 300, concurrent: 2, ...quiet });
  assert.ok(s.ok > 0);
  assert.ok(s.durationMs < 1500, `took ${s.durationMs}ms`);
});

test('options are checked: non-loopback targets, unbounded runs and bad values are refused', async () => {
  await assert.rejects(runTraffic({ target: '192.0.2.1:80', requests: 1, ...quiet }), { code: 'E_BAD_ARGUMENT' });
  await assert.rejects(runTraffic({ target: '127.0.0.1:80', ...quiet }), { code: 'E_BAD_ARGUMENT' });
  await assert.rejects(runTraffic({ target: 'nope', requests: 1, ...quiet }), { code: 'E_ADDRESS' });
  await assert.rejects(runTraffic({ target: '127.0.0.1:80', requests: 0, ...quiet }), { code: 'E_RANGE' });
});
