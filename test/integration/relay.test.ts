// The relay over real loopback sockets: bytes both ways, backpressure, half-close,
// connect and idle timeouts, retries on refused connects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { startNamedEcho, freePort, deadPort, whoAnswers, waitFor, startHungListener } from '../helpers/servers.js';
import { startTestDaemon, simpleConfig } from '../helpers/daemon.js';

test('relays 32 MiB each way intact through a slow reader (backpressure)', async () => {
  const backend = await startNamedEcho('echo');
  const port = await freePort();
  const d = await startTestDaemon(simpleConfig({ listenPort: port, backends: [{ name: 'echo', port: backend.port }] }));
  try {
    const size = 32 * 1024 * 1024;
    const payload = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4) payload.writeUInt32LE((i * 2654435761) >>> 0, i);
    const want = createHash('sha256').update('echo\n').update(payload).digest('hex');
    const got = await new Promise<{ hash: string; n: number }>((resolve, reject) => {
      const c = net.connect({ host: '127.0.0.1', port });
      const h = createHash('sha256');
      let n = 0;
      c.on('data', (chunk: Buffer) => {
        h.update(chunk);
        n += chunk.length;
        // read slowly at first so the proxy has to hold back the backend
        if (n < 4 * 1024 * 1024) {
          c.pause();
          setTimeout(() => c.resume(), 1);
        }
      });
      c.on('end', () => resolve({ hash: h.digest('hex'), n }));
      c.on('error', reject);
      c.end(payload);
    });
    assert.equal(got.n, size + 5);
    assert.equal(got.hash, want);
    const snap = d.daemon.snapshot();
    const b = snap.backends[0]!;
    await waitFor(() => d.daemon.snapshot().backends[0]!.active === 0, 5000, 'connection accounted');
    assert.equal(d.daemon.snapshot().backends[0]!.bytesIn, size);
    assert.equal(d.daemon.snapshot().backends[0]!.bytesOut, size + 5);
    assert.ok(b.connections >= 1);
  } finally {
    await d.stop();
    await backend.close();
  }
});

test('half-close: the client finishes sending and still receives the whole reply', async () => {
  // a backend that answers only after the client's FIN, then closes
  const server = net.createServer({ allowHalfOpen: true }, (c) => {
    let n = 0;
    c.on('data', (d) => (n += d.length));
    c.on('end', () => {
      setTimeout(() => c.end(`received ${n} bytes\n`), 50);
    });
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  const bport = (server.address() as net.AddressInfo).port;
  const port = await freePort();
  const d = await startTestDaemon(simpleConfig({ listenPort: port, backends: [{ name: 'hc', port: bport }] }));
  try {
    const reply = await new Promise<string>((resolve, reject) => {
      const c = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      let buf = '';
      c.setEncoding('utf8');
      c.on('data', (x: string) => (buf += x));
      c.on('end', () => {
        c.end();
        resolve(buf);
      });
      c.on('error', reject);
      c.write('x'.repeat(1000));
      c.end('y'.repeat(234));
    });
    assert.equal(reply, 'received 1234 bytes\n');
  } finally {
    await d.stop();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('a refused connect is retried on another backend; errors and retries are counted', async () => {
  const good = await startNamedEcho('good');
  const bad = await deadPort();
  const port = await freePort();
  const d = await startTestDaemon(
    simpleConfig({
      listenPort: port,
      backends: [
        { name: 'bad', port: bad },
        { name: 'good', port: good.port },
      ],
    }),
  );
  try {
    for (let i = 0; i < 20; i++) assert.equal(await whoAnswers(port), 'good');
    const snap = d.daemon.snapshot();
    const b = snap.backends.find((x) => x.name === 'bad')!;
    assert.ok(b.connectErrors.refused >= 1, 'refused counted');
    assert.equal(b.connectErrors.refused, b.retries);
    assert.equal(snap.backends.find((x) => x.name === 'good')!.connections, 20);
  } finally {
    await d.stop();
    await good.close();
  }
});

test('idle timeout closes a connection with no traffic either way', async () => {
  const backend = net.createServer(() => {
    /* accepts and stays silent */
  });
  await new Promise<void>((r) => backend.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  const bport = (backend.address() as net.AddressInfo).port;
  const port = await freePort();
  const toml = simpleConfig({ listenPort: port, backends: [{ name: 'silent', port: bport }] }).replace(
    'idle = "30s"',
    'idle = "300ms"',
  );
  const d = await startTestDaemon(toml);
  try {
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      const c = net.connect({ host: '127.0.0.1', port });
      c.on('close', () => resolve());
      c.on('error', () => {});
      setTimeout(() => reject(new Error('not closed within 5 s')), 5000).unref();
    });
    const took = Date.now() - started;
    assert.ok(took >= 250, `closed too early: ${took} ms`);
  } finally {
    await d.stop();
    backend.close();
  }
});

test('connect timeout: a backend that never completes the handshake is given up on and retried elsewhere', async (t) => {
  const hung = await startHungListener();
  if (hung === null) {
    t.skip('this kernel completes handshakes on a full accept queue');
    return;
  }
  const hungPort = hung.port;
  const good = await startNamedEcho('good');
  const port = await freePort();
  const toml = simpleConfig({
    listenPort: port,
    backends: [
      { name: 'hung', port: hungPort },
      { name: 'good', port: good.port },
    ],
  }).replace('connect = "1s"', 'connect = "200ms"');
  const d = await startTestDaemon(toml);
  try {
    for (let i = 0; i < 4; i++) assert.equal(await whoAnswers(port, 5000), 'good');
    const hung = d.daemon.snapshot().backends.find((b) => b.name === 'hung')!;
    assert.ok(hung.connectErrors.timeout >= 1, `timeouts counted: ${JSON.stringify(hung.connectErrors)}`);
  } finally {
    await d.stop();
    await good.close();
    hung.close();
  }
});
