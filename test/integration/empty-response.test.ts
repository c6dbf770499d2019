// Nothing happened yet, so try elsewhere: a backend that closes or resets a
// connection before either side sent a byte failed like a refused connect, and
// the client is served by another backend. With retry_on = ["empty_response"],
// a backend that fails after the client's bytes and before its first byte has
// those bytes replayed elsewhere, while they fit in retry_buffer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startTestDaemon } from '../helpers/daemon.js';
import { startChildBackend, type ChildBackend } from '../helpers/child-backend.js';
import { freePort, waitFor } from '../helpers/servers.js';

/** Connect, read the greeting line; null when the connection ends without one. */
function greeting(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) c.end();
    });
    c.on('error', () => {});
    c.on('close', () => resolve(buf.includes('\n') ? buf.slice(0, buf.indexOf('\n')) : null));
  });
}

test('a backend killed with connections in its accept queue: every client is served by the others', async (t) => {
  const backends: ChildBackend[] = [];
  for (const name of ['b1', 'b2', 'b3']) backends.push(await startChildBackend(name, 'greet'));
  const port = await freePort();
  const lines = [
    'workers = 1',
    '[metrics]\nlisten = "off"',
    `[control]\nsocket = "/tmp/netmon-empty-${process.pid}.sock"`,
    '[log]\nlevel = "warn"',
    '[[listener]]\nname = "main"',
    `bind = "127.0.0.1:${port}"`,
    'pool = "web"',
    '[pool.web]',
    'retries = 2',
    'timeouts = { connect = "3s", idle = "30s" }',
    'health = { type = "none" }',
    ...backends.flatMap((b, i) => ['[[pool.web.backend]]', `name = "b${i + 1}"`, `address = "127.0.0.1:${b.port}"`]),
  ];
  const td = await startTestDaemon(lines.join('\n'));
  t.after(async () => {
    await td.stop();
    for (const b of backends) await b.kill();
  });
  const b1 = (): { active: number; connections: number } => {
    const s = td.daemon.snapshot().backends.find((b) => b.name === 'b1')!;
    return { active: s.active, connections: s.connections };
  };

  // a steady stream of short connections, 6 at a time, 600 in all; b1's process
  // is stopped at the 150th (its kernel still accepts: connections pile up in its
  // accept queue) and killed once several wait there (the kernel resets them all)
  const TOTAL = 600;
  let started = 0;
  let failed = 0;
  let stuck = 0;
  const worker = async (): Promise<void> => {
    while (started < TOTAL) {
      const n = ++started;
      if (n === 150) backends[0]!.stop();
      if ((await greeting(port)) === null) failed++;
    }
  };
  const killer = async (): Promise<void> => {
    await waitFor(() => started >= 150, 30_000, 'the stream to reach the stop');
    await waitFor(() => b1().active >= 3, 10_000, 'connections waiting in the stopped backend');
    stuck = b1().active;
    await backends[0]!.kill();
  };
  await Promise.all([killer(), ...Array.from({ length: 6 }, worker)]);

  assert.equal(failed, 0, `${failed} of ${TOTAL} client connections failed`);
  const s = td.daemon.snapshot().backends.find((b) => b.name === 'b1')!;
  // (a connection the stopped process had already taken may still have had its greeting)
  assert.ok(s.responseErrors.empty > 0, `the reset connections (${stuck} were waiting) counted as empty responses`);
  // after the kill its port refuses: those connects are retried too
  const refused = s.connectErrors.refused + s.connectErrors.timeout + s.connectErrors.other;
  assert.equal(s.retries, s.responseErrors.empty + refused, 'each failure retried elsewhere');
});

/**
 * A backend that never answers: on the client's bytes it closes (FIN) when they
 * start with "F", else resets; `seen` collects what it received per connection.
 */
async function failingBackend(): Promise<{ port: number; seen: string[]; close(): void }> {
  const seen: string[] = [];
  const server = net.createServer((c) => {
    c.on('error', () => {});
    const i = seen.push('') - 1;
    c.on('data', (d: Buffer) => {
      seen[i] += d.toString('latin1');
      if (seen[i]!.startsWith('F')) c.end();
      else c.resetAndDestroy();
    });
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  return { port: (server.address() as net.AddressInfo).port, seen, close: () => server.close() };
}

/** A backend that answers each connection's bytes, once the client has sent FIN, with "b:" and all of them. */
async function answeringBackend(): Promise<{ port: number; seen: string[]; close(): void }> {
  const seen: string[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (c) => {
    c.on('error', () => {});
    const i = seen.push('') - 1;
    c.on('data', (d: Buffer) => (seen[i] += d.toString('latin1')));
    c.on('end', () => c.end(`b:${seen[i]}`));
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  return { port: (server.address() as net.AddressInfo).port, seen, close: () => server.close() };
}

/** Send `body`, then FIN; resolves with what came back and how the connection ended. */
function exchange(port: number, body: string): Promise<{ text: string; ended: string }> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    let text = '';
    let ended = 'end';
    c.setEncoding('latin1');
    c.on('data', (d: string) => (text += d));
    c.on('error', (e: NodeJS.ErrnoException) => (ended = e.code ?? 'error'));
    c.on('close', () => resolve({ text, ended }));
    c.end(body);
  });
}

test('retry_on empty_response replays the client bytes elsewhere, within retry_buffer', async (t) => {
  const a = await failingBackend();
  const b = await answeringBackend();
  const port = await freePort();
  const toml = [
    'workers = 1',
    '[metrics]\nlisten = "off"',
    `[control]\nsocket = "/tmp/netmon-replay-${process.pid}.sock"`,
    '[log]\nlevel = "warn"',
    '[[listener]]\nname = "main"',
    `bind = "127.0.0.1:${port}"`,
    'pool = "web"',
    '[pool.web]',
    // a is picked first (its weight), b only by a retry that avoids a
    'algorithm = "weighted_round_robin"',
    'retries = 1',
    'retry_on = ["connect_failure", "empty_response"]',
    'retry_buffer = "1KiB"',
    'passive = { consecutive_failures = 0 }',
    'health = { type = "none" }',
    `[[pool.web.backend]]\nname = "a"\naddress = "127.0.0.1:${a.port}"\nweight = 256`,
    `[[pool.web.backend]]\nname = "b"\naddress = "127.0.0.1:${b.port}"\nweight = 1`,
  ].join('\n');
  const td = await startTestDaemon(toml);
  t.after(async () => {
    await td.stop();
    a.close();
    b.close();
  });
  const snap = (name: string) => td.daemon.snapshot().backends.find((x) => x.name === name)!;

  // a resets after reading the request: it is replayed to b, which sees it once, whole
  const body = 'R'.repeat(700);
  assert.deepEqual(await exchange(port, body), { text: `b:${body}`, ended: 'end' });
  assert.deepEqual(a.seen, [body]);
  assert.deepEqual(b.seen, [body]);
  // a closes (FIN) without answering while the client waits: the same
  const fin = 'F'.repeat(100);
  const c = net.connect({ host: '127.0.0.1', port });
  c.setEncoding('latin1');
  let text = '';
  c.on('data', (d: string) => (text += d));
  c.write(fin);
  await waitFor(() => b.seen.length === 2 && b.seen[1] === fin, 5000, 'the replay to b');
  c.end();
  await new Promise<void>((r) => c.once('close', () => r()));
  assert.equal(text, `b:${fin}`);
  assert.equal(snap('a').responseErrors.empty, 2);
  assert.equal(snap('a').retries, 2);

  // more than retry_buffer: nothing to replay, the client sees the reset a sent
  const big = 'R'.repeat(4096);
  assert.deepEqual(await exchange(port, big), { text: '', ended: 'ECONNRESET' });
  assert.equal(b.seen.length, 2, 'b never saw the big request');
  assert.equal(snap('a').retries, 2);

  // a client that connects and closes without a byte is not a failure of the backend
  const quiet = net.connect({ host: '127.0.0.1', port });
  quiet.end();
  await new Promise<void>((r) => quiet.once('close', () => r()));
  await waitFor(() => snap('a').connections + snap('b').connections === 6, 5000, 'the quiet connection served');
  assert.equal(snap('a').responseErrors.empty, 2, 'neither the big one (no replay: relayed as it was) nor this one');
  assert.equal(snap('a').retries + snap('b').retries, 2);
});
