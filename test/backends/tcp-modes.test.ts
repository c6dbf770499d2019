import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startBackend } from '../../backends/index.js';
import { collect, openSocket } from './helpers.js';

test('echo mode writes back exactly what it reads, in order, and ends after the client ends', async () => {
  const b = await startBackend({ name: 'echo1', mode: 'echo' });
  try {
    const s = await openSocket(b.port);
    const done = collect(s);
    const payload = randomBytes(300_000);
    s.end(payload);
    const { data, error } = await done;
    assert.equal(error, undefined);
    assert.ok(data.equals(payload));
    assert.equal(b.stats().bytesIn, payload.length);
    assert.equal(b.stats().bytesOut, payload.length);
  } finally {
    await b.stop();
  }
});

test('echo mode with latency keeps the byte order', async () => {
  const b = await startBackend({ name: 'echo2', mode: 'echo', behaviour: { latency: 'uniform:1ms:15ms' } });
  try {
    const s = await openSocket(b.port);
    const done = collect(s);
    const parts = ['one,', 'two,', 'three,', 'four'];
    for (const p of parts) {
      s.write(p);
      await new Promise((r) => setImmediate(r));
    }
    s.end();
    assert.equal((await done).data.toString(), parts.join(''));
  } finally {
    await b.stop();
  }
});

test('sink mode reads and counts bytes, answers nothing', async () => {
  const b = await startBackend({ name: 'sink1', mode: 'sink' });
  try {
    const s = await openSocket(b.port);
    const done = collect(s);
    s.end(Buffer.alloc(1_000_000, 1));
    const { data } = await done;
    assert.equal(data.length, 0);
    assert.equal(b.stats().bytesIn, 1_000_000);
    assert.equal(b.stats().requests, 1);
  } finally {
    await b.stop();
  }
});

test('source mode sends sourceBytes then ends; fault close stops half way', async () => {
  const b = await startBackend({ name: 'src1', mode: 'source', sourceBytes: 500_000 });
  try {
    const s = await openSocket(b.port);
    const { data, error } = await collect(s);
    assert.equal(error, undefined);
    assert.equal(data.length, 500_000);
    await b.setBehaviour({ fault: 'close' });
    const half = await collect(await openSocket(b.port));
    assert.equal(half.data.length, 250_000);
  } finally {
    await b.stop();
  }
});

test('errorRate in a TCP mode resets the connection', async () => {
  const b = await startBackend({ name: 'echo3', mode: 'echo', behaviour: { errorRate: 1 } });
  try {
    const s = await openSocket(b.port);
    const done = collect(s);
    s.write('hello');
    const { data, error } = await done;
    assert.equal(data.length, 0);
    assert.equal(error, 'ECONNRESET');
    assert.equal(b.stats().errors, 1);
  } finally {
    await b.stop();
  }
});

test('an unknown mode is rejected with a code', async () => {
  await assert.rejects(startBackend({ mode: 'udp' as 'echo' }), { code: 'E_ENUM' });
});
