import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { once } from 'node:events';
import { startBackend, type SimBackend } from '../../backends/index.js';
import { collect, httpRequest, openSocket, postSim, tryConnect } from './helpers.js';

async function withBackend(name: string, fn: (b: SimBackend) => Promise<void>, mode?: 'http' | 'echo'): Promise<void> {
  const b = await startBackend({ name, ...(mode ? { mode } : {}) });
  try {
    await fn(b);
  } finally {
    await b.stop();
  }
}

/** polls until `check` is true; bounded, no fixed sleeps */
async function waitFor(check: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('condition not met in time');
}

test('fault refuse: new connects are refused, an open keep-alive connection can lift it over /_sim', () =>
  withBackend('r1', async (b) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      assert.equal((await httpRequest(b.port, '/', { agent })).status, 200);
      const r = await postSim(b.port, { fault: 'refuse' }, agent);
      assert.equal(r.status, 200);
      assert.equal(await tryConnect(b.port), 'ECONNREFUSED');
      assert.equal(b.stats().listening, false);
      // the same kept-alive socket still reaches the control endpoint
      const lifted = await postSim(b.port, { fault: 'none' }, agent);
      assert.equal(lifted.status, 200);
      assert.equal(await tryConnect(b.port), 'connected');
      assert.equal((await httpRequest(b.port, '/')).body, 'hello from r1\n');
    } finally {
      agent.destroy();
    }
  }));

test('fault hang: requests are read but never answered, health included', () =>
  withBackend('h1', async (b) => {
    await b.setBehaviour({ fault: 'hang' });
    await assert.rejects(httpRequest(b.port, '/', { timeoutMs: 300 }), { code: 'TIMEOUT' });
    await assert.rejects(httpRequest(b.port, '/health', { timeoutMs: 300 }), { code: 'TIMEOUT' });
    // /_sim stays answerable so the fault can be lifted
    assert.equal((await postSim(b.port, { fault: 'none' })).status, 200);
    assert.equal((await httpRequest(b.port, '/', { timeoutMs: 2000 })).status, 200);
  }));

test('fault slow: every answer waits slowLatency more', () =>
  withBackend('s1', async (b) => {
    await b.setBehaviour({ fault: 'slow', slowLatency: '120ms' });
    const r = await httpRequest(b.port, '/health');
    assert.equal(r.status, 200);
    assert.ok(r.ms >= 110, `took ${r.ms}ms`);
    await b.setBehaviour({ fault: 'none' });
    assert.ok((await httpRequest(b.port, '/health')).ms < 110);
  }));

test('fault close: the answer promises a full body and the connection drops half way', () =>
  withBackend('c1', async (b) => {
    await postSim(b.port, { fault: 'close' });
    const s = await openSocket(b.port);
    s.write('GET /api/data?size=2000 HTTP/1.1\r\nHost: x\r\n\r\n');
    const { data } = await collect(s);
    const text = data.toString();
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.match(text, /content-length: 2000/i);
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    assert.equal(Buffer.byteLength(body), 1000);
    // a normal HTTP client sees an error, not a short success
    await assert.rejects(httpRequest(b.port, '/api/data?size=2000'));
  }));

test('fault crash: open connections are reset, the port refuses; reset() brings it back on the same port', () =>
  withBackend('x1', async (b) => {
    const port = b.port;
    const idle = await openSocket(port);
    const closed = collect(idle);
    await waitFor(() => b.stats().connections === 1);
    await b.setBehaviour({ fault: 'crash' });
    const { error } = await closed;
    assert.equal(error, 'ECONNRESET');
    assert.equal(await tryConnect(port), 'ECONNREFUSED');
    await b.reset();
    assert.equal(b.port, port);
    assert.equal((await httpRequest(port, '/')).status, 200);
  }));

test('crash over POST /_sim still answers the request that asked for it', () =>
  withBackend('x2', async (b) => {
    const r = await postSim(b.port, { fault: 'crash' });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { behaviour: { fault: string } }).behaviour.fault, 'crash');
    await waitFor(async () => (await tryConnect(b.port)) === 'ECONNREFUSED');
  }));

test('faultFor ends a fault by itself', () =>
  withBackend('f1', async (b) => {
    await b.setBehaviour({ fault: 'refuse', faultFor: '150ms' });
    assert.equal(await tryConnect(b.port), 'ECONNREFUSED');
    await waitFor(async () => (await tryConnect(b.port)) === 'connected');
    assert.equal(b.behaviour().fault, 'none');
  }));

test('fault unhealthy: /health answers 503 while / keeps working', () =>
  withBackend('u1', async (b) => {
    await b.setBehaviour({ fault: 'unhealthy' });
    const h = await httpRequest(b.port, '/health');
    assert.equal(h.status, 503);
    assert.equal((JSON.parse(h.body) as { status: string }).status, 'fail');
    assert.equal((await httpRequest(b.port, '/')).status, 200);
  }));

test('run-time tuning over HTTP: errorRate, cpuBurn and reset take effect on the next request', () =>
  withBackend('t1', async (b) => {
    assert.equal((await postSim(b.port, { errorRate: 1 })).status, 200);
    const e = await httpRequest(b.port, '/');
    assert.equal(e.status, 500);
    assert.match(e.body, /simulated/);
    assert.equal((await postSim(b.port, { cpuBurn: '30ms', errorRate: 0 })).status, 200);
    const slow = await httpRequest(b.port, '/');
    assert.equal(slow.status, 200);
    assert.ok(slow.ms >= 28, `took ${slow.ms}ms`);
    const reset = await httpRequest(b.port, '/_sim/reset', { method: 'POST' });
    assert.equal(reset.status, 200);
    assert.deepEqual(
      { cpuBurn: b.behaviour().cpuBurnMs, errorRate: b.behaviour().errorRate, fault: b.behaviour().fault },
      { cpuBurn: 0, errorRate: 0, fault: 'none' },
    );
  }));

test('a backend started in fault refuse holds no listener until the fault is lifted', async () => {
  const b = await startBackend({ name: 'r0', behaviour: { fault: 'refuse' } });
  try {
    assert.equal(await tryConnect(b.port), 'ECONNREFUSED');
    await b.setBehaviour({ fault: 'none' });
    assert.equal(await tryConnect(b.port), 'connected');
  } finally {
    await b.stop();
  }
});

test('fault hang in a TCP mode accepts but never echoes', () =>
  withBackend(
    'e1',
    async (b) => {
      await b.setBehaviour({ fault: 'hang' });
      const s = await openSocket(b.port);
      const got: Buffer[] = [];
      s.on('data', (c: Buffer) => got.push(c));
      s.write('ping');
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(got.length, 0);
      s.destroy();
      await once(s, 'close');
    },
    'echo',
  ));
