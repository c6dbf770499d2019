import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startBackend, startBackends, type SimBackend } from '../../backends/index.js';
import { httpRequest, postSim } from './helpers.js';

let b: SimBackend;
before(async () => {
  b = await startBackend({ name: 'b7' });
});
after(() => b.stop());

test('GET / says hello with the backend name, and every answer names it in x-backend', async () => {
  const r = await httpRequest(b.port, '/');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'hello from b7\n');
  assert.equal(r.headers['x-backend'], 'b7');
});

test('GET /health returns the agent JSON the health checker reads', async () => {
  const r = await httpRequest(b.port, '/health');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /application\/json/);
  const h = JSON.parse(r.body) as Record<string, unknown>;
  assert.equal(h.status, 'ok');
  assert.equal(h.name, 'b7');
  for (const k of ['cpu', 'memory', 'connections'] as const) {
    assert.equal(typeof h[k], 'number', k);
    assert.ok((h[k] as number) >= 0, k);
  }
  assert.ok((h.cpu as number) <= 100 && (h.memory as number) <= 100);
  // this very request's connection is open
  assert.ok((h.connections as number) >= 1);
});

test('GET /metrics is Prometheus text from the backend own registry', async () => {
  await httpRequest(b.port, '/');
  const r = await httpRequest(b.port, '/metrics');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /text\/plain/);
  assert.match(r.body, /^sim_requests_total\{backend="b7"\} \d+$/m);
  assert.match(r.body, /^sim_http_responses_total\{route="root",code="200",backend="b7"\} \d+$/m);
  assert.match(r.body, /^sim_open_connections\{backend="b7"\} \d+$/m);
});

test('two backends in one process keep separate metrics', async () => {
  const [x, y] = await startBackends(2, { prefix: 'm' });
  try {
    for (let i = 0; i < 3; i++) await httpRequest(x!.port, '/');
    const mx = (await httpRequest(x!.port, '/metrics')).body;
    const my = (await httpRequest(y!.port, '/metrics')).body;
    assert.match(mx, /^sim_http_responses_total\{route="root",code="200",backend="m1"\} 3$/m);
    assert.doesNotMatch(my, /route="root"/);
  } finally {
    await Promise.all([x!.stop(), y!.stop()]);
  }
});

test('GET /api/data returns valid JSON of the requested size', async () => {
  const r = await httpRequest(b.port, '/api/data?size=4096');
  assert.equal(r.status, 200);
  assert.equal(Buffer.byteLength(r.body), 4096);
  const parsed = JSON.parse(r.body) as { items: unknown[] };
  assert.ok(parsed.items.length > 10);
  const d = await httpRequest(b.port, '/api/data');
  assert.equal(Buffer.byteLength(d.body), 1024, 'default dataSize');
});

test('unknown routes answer 404', async () => {
  assert.equal((await httpRequest(b.port, '/nope')).status, 404);
});

test('GET /_sim describes behaviour and stats; bad POST bodies get 400 with a code', async () => {
  const r = await httpRequest(b.port, '/_sim');
  const d = JSON.parse(r.body) as { name: string; behaviour: { fault: string }; stats: { requests: number } };
  assert.equal(d.name, 'b7');
  assert.equal(d.behaviour.fault, 'none');
  assert.ok(d.stats.requests > 0);
  const bad = await postSim(b.port, { errorRate: 3 });
  assert.equal(bad.status, 400);
  assert.equal((JSON.parse(bad.body) as { error: { code: string } }).error.code, 'E_RANGE');
  const unknown = await postSim(b.port, { latncy: '1ms', fault: 'melt' });
  assert.equal(unknown.status, 400);
  const e = (JSON.parse(unknown.body) as { error: { code: string; message: string } }).error;
  assert.equal(e.code, 'E_BAD_ARGUMENT');
  assert.match(e.message, /latncy/);
  assert.match(e.message, /fault/);
  const notJson = await httpRequest(b.port, '/_sim', { method: 'POST', body: '{oops' });
  assert.equal(notJson.status, 400);
  assert.equal(b.behaviour().errorRate, 0, 'a rejected change changes nothing');
});

test('latency set at run time over POST /_sim delays application answers', async () => {
  const s = await startBackend({ name: 'lat' });
  try {
    const ok = await postSim(s.port, { latency: '150ms' });
    assert.equal(ok.status, 200);
    const r = await httpRequest(s.port, '/');
    assert.equal(r.status, 200);
    assert.ok(r.ms >= 140, `took ${r.ms}ms`);
    // health is not an application route: not delayed
    const h = await httpRequest(s.port, '/health');
    assert.ok(h.ms < 140, `health took ${h.ms}ms`);
    await s.setBehaviour({ latency: 'uniform:20ms:40ms' });
    const u = await httpRequest(s.port, '/');
    assert.ok(u.ms >= 19, `took ${u.ms}ms`);
  } finally {
    await s.stop();
  }
});

test('errorRate with an even spread fails exactly that share of requests', async () => {
  const s = await startBackend({ name: 'flaky', behaviour: { errorRate: 0.25, errorSpread: 'even' } });
  try {
    let errors = 0;
    for (let i = 0; i < 40; i++) if ((await httpRequest(s.port, '/')).status === 500) errors++;
    assert.equal(errors, 10);
    assert.equal(s.stats().errors, 10);
    await s.setBehaviour({ errorRate: 0 });
    assert.equal((await httpRequest(s.port, '/')).status, 200);
  } finally {
    await s.stop();
  }
});

test('cpuBurn makes requests take CPU and shows in the agent cpu figure', async () => {
  const s = await startBackend({ name: 'hot', behaviour: { cpuBurn: '15ms' } });
  try {
    const r = await httpRequest(s.port, '/');
    assert.ok(r.ms >= 14, `took ${r.ms}ms`);
    // the figure is sampled once a second: keep it busy until a sample sees it
    const deadline = Date.now() + 8000;
    let cpu = 0;
    while (Date.now() < deadline && cpu < 5) {
      for (let i = 0; i < 10; i++) await httpRequest(s.port, '/');
      cpu = (JSON.parse((await httpRequest(s.port, '/health')).body) as { cpu: number }).cpu;
    }
    assert.ok(cpu >= 5, `cpu ${cpu}`);
  } finally {
    await s.stop();
  }
});

test('stats count requests and open connections; stop closes everything', async () => {
  const s = await startBackend({ name: 'st' });
  for (let i = 0; i < 5; i++) await httpRequest(s.port, '/');
  assert.equal(s.stats().requests, 5);
  assert.equal(s.stats().connectionsTotal, 5);
  await s.stop();
  assert.equal(s.stats().connections, 0);
  assert.equal(s.stats().listening, false);
});
