// The backend's first byte, over real sockets. It is timed from the first
// client byte relayed to the backend (from the connect when the backend speaks
// first), apart from the connect time, as nginx's upstream_connect_time and
// upstream_first_byte_time: a client that waits 2 s before it sends does not
// make a fast backend look 2 s slow. And a black-holed backend (its process
// stopped: its kernel still accepts) is noticed by timeouts.first_byte: counted
// as a passive failure, replayed elsewhere with retry_on empty_response, or
// reset when no retry is allowed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startChildDaemon } from '../systemd/child-daemon.js';
import { startChildBackend } from '../helpers/child-backend.js';
import { freePort, startNamedEcho, waitFor } from '../helpers/servers.js';
import { parsePromText, sampleValue } from '../metrics/prom-text.js';
import type { BackendSnapshot } from '../../daemon/control/snapshot/snapshot.js';

/**
 * Connect, wait `waitMs` (counted once `after` resolves too: e.g. once netmon has
 * accepted and connected on), send `line`, resolve with the first line back
 * (null: none) and how it ended.
 */
function ask(
  port: number,
  line: string,
  waitMs = 0,
  after: Promise<void> = Promise.resolve(),
): Promise<{ reply: string | null; ended: string }> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    let ended = 'end';
    c.setEncoding('utf8');
    c.on('connect', () => void after.then(() => setTimeout(() => c.write(line), waitMs)));
    c.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) c.end();
    });
    c.on('error', (e: NodeJS.ErrnoException) => (ended = e.code ?? 'error'));
    c.on('close', () => resolve({ reply: buf.includes('\n') ? buf.slice(0, buf.indexOf('\n')) : null, ended }));
  });
}

/** An echo backend that answers each line after `delayMs`; `connected` resolves at its first connection. */
async function slowEcho(delayMs: number): Promise<{ port: number; close(): void; connected: Promise<void> }> {
  let connected!: () => void;
  const first = new Promise<void>((r) => (connected = r));
  const server = net.createServer((c) => {
    connected();
    c.on('error', () => {});
    c.on('data', (d) => setTimeout(() => c.writable && c.write(d), delayMs));
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close(), connected: first };
}

test('first byte is timed from the first client byte (or the connect for a server that speaks first)', async (t) => {
  const fast = await slowEcho(0);
  const slow = await slowEcho(300);
  const greeter = await startNamedEcho('hello');
  t.after(async () => {
    fast.close();
    slow.close();
    await greeter.close();
  });
  const ports = { fast: await freePort(), slow: await freePort(), greet: await freePort() };
  const d = await startChildDaemon((sock) =>
    [
      'workers = 1',
      '[metrics]\nlisten = "off"',
      `[control]\nsocket = ${JSON.stringify(sock)}`,
      '[log]\nlevel = "info"\naccess = true',
      ...Object.entries(ports).flatMap(([name, port]) => [
        '[[listener]]',
        `name = "${name}"`,
        `bind = "127.0.0.1:${port}"`,
        `pool = "${name}"`,
      ]),
      ...[
        ['fast', fast.port],
        ['slow', slow.port],
        ['greet', greeter.port],
      ].flatMap(([name, port]) => [
        `[pool.${name}]`,
        'health = { type = "none" }',
        `[[pool.${name}.backend]]`,
        'name = "b"',
        `address = "127.0.0.1:${port}"`,
      ]),
      '',
    ].join('\n'),
  );
  t.after(() => d.cleanup());
  const access = (listener: string): Record<string, unknown> | undefined =>
    d.stdout
      .join('')
      .split('\n')
      .filter((l) => l.includes('"msg":"access"') && l.includes(`"listener":"${listener}"`))
      .map((l) => JSON.parse(l) as Record<string, unknown>)[0];
  const backend = async (pool: string): Promise<BackendSnapshot> =>
    ((await d.ctl('show stats')) as { backends: BackendSnapshot[] }).backends.find((b) => b.pool === pool)!;

  // the client connects, waits 2 s from when netmon has accepted it and connected on (so the
  // connection's duration covers the wait however late a loaded worker accepts), then asks a
  // backend that answers at once
  assert.deepEqual(await ask(ports.fast, 'ping\n', 2000, fast.connected), { reply: 'ping', ended: 'end' });
  // the backend that waits 300 ms before it answers, asked at once
  assert.deepEqual(await ask(ports.slow, 'ping\n'), { reply: 'ping', ended: 'end' });
  // a server that speaks first; the client sends only after 2 s
  assert.deepEqual(await ask(ports.greet, 'ping\n', 2000), { reply: 'hello', ended: 'end' });
  await waitFor(() => ['fast', 'slow', 'greet'].every((l) => access(l) !== undefined), 5000, 'the access lines');

  const fastLine = access('fast')!;
  assert.ok((fastLine['first_byte_ms'] as number) < 250, `fast: ${String(fastLine['first_byte_ms'])} ms`);
  assert.ok((fastLine['connect_ms'] as number) < 250, 'the connect time, apart');
  assert.ok((fastLine['duration_ms'] as number) >= 1900, 'the connection itself lasted about the 2 s');
  const slowLine = access('slow')!;
  assert.ok((slowLine['first_byte_ms'] as number) >= 295, `slow: ${String(slowLine['first_byte_ms'])} ms`);
  const greetLine = access('greet')!;
  assert.ok((greetLine['first_byte_ms'] as number) < 250, `greeting: ${String(greetLine['first_byte_ms'])} ms`);

  // what balancing and alerts read: the EWMA and the histogram (seconds)
  const f = await backend('fast');
  assert.ok(f.ewmaFirstByteMs < 250, `EWMA ${f.ewmaFirstByteMs} ms`);
  assert.ok(f.firstByteMs.p95 <= 250, `p95 ${f.firstByteMs.p95} ms`);
  const s = await backend('slow');
  assert.ok(s.ewmaFirstByteMs >= 295, `EWMA ${s.ewmaFirstByteMs} ms`);
});

test('a black-holed backend: timeouts.first_byte counts it failed and replays elsewhere, or resets', async (t) => {
  const stopped = await startChildBackend('stopped', 'echo');
  const good = await startChildBackend('good', 'echo');
  // registered first: a daemon that fails to start must not leave the backends (and this file) running
  t.after(async () => {
    await stopped.kill();
    await good.kill();
  });
  const ports = { replay: await freePort(), plain: await freePort() };
  const metricsPort = await freePort();
  const d = await startChildDaemon((sock) =>
    [
      'workers = 1',
      `[metrics]\nlisten = "127.0.0.1:${metricsPort}"`,
      `[control]\nsocket = ${JSON.stringify(sock)}`,
      '[log]\nlevel = "info"\naccess = true',
      `[[listener]]\nname = "replay"\nbind = "127.0.0.1:${ports.replay}"\npool = "replay"`,
      `[[listener]]\nname = "plain"\nbind = "127.0.0.1:${ports.plain}"\npool = "plain"`,
      '[pool.replay]',
      'health = { type = "none" }',
      'retries = 1',
      'retry_on = ["connect_failure", "empty_response"]',
      'timeouts = { connect = "1s", first_byte = "300ms" }',
      'passive = { consecutive_failures = 2, max_ejected_share = 0.5 }',
      `[[pool.replay.backend]]\nname = "stopped"\naddress = "127.0.0.1:${stopped.port}"`,
      `[[pool.replay.backend]]\nname = "good"\naddress = "127.0.0.1:${good.port}"`,
      '[pool.plain]',
      'health = { type = "none" }',
      'retries = 0',
      'timeouts = { connect = "1s", first_byte = "300ms" }',
      'passive = { consecutive_failures = 0 }',
      `[[pool.plain.backend]]\nname = "stopped"\naddress = "127.0.0.1:${stopped.port}"`,
      '',
    ].join('\n'),
  );
  t.after(() => d.cleanup());
  stopped.stop();
  const backends = async (): Promise<BackendSnapshot[]> =>
    ((await d.ctl('show stats')) as { backends: BackendSnapshot[] }).backends;

  // every client is answered, by the good backend; the stopped one is ejected by the data path
  for (let i = 0; i < 12; i++) {
    assert.deepEqual(await ask(ports.replay, `ping ${i}\n`), { reply: `good:ping ${i}`, ended: 'end' }, `client ${i}`);
  }
  const s = (await backends()).find((b) => b.pool === 'replay' && b.name === 'stopped')!;
  assert.equal(s.op, 'down');
  assert.equal(s.cause, 'passive');
  assert.ok(s.responseErrors.timeout >= 2, `first-byte timeouts: ${s.responseErrors.timeout}`);
  assert.equal(s.retries, s.responseErrors.timeout, 'each replayed elsewhere');

  // no retry allowed: the client sees a reset, the access line says why
  assert.deepEqual(await ask(ports.plain, 'ping\n'), { reply: null, ended: 'ECONNRESET' });
  const line = async (): Promise<Record<string, unknown> | undefined> =>
    d.stdout
      .join('')
      .split('\n')
      .filter((l) => l.includes('"msg":"access"') && l.includes('"listener":"plain"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)[0];
  await waitFor(async () => (await line()) !== undefined, 5000, 'the access line');
  const l = (await line())!;
  assert.equal(l['termination'], 'first_byte_timeout');
  assert.equal(l['error'], 'E_FIRST_BYTE_TIMEOUT');
  assert.equal(l['first_byte_ms'], null);
  const p = (await backends()).find((b) => b.pool === 'plain')!;
  assert.equal(p.responseErrors.timeout, 1);
  const fams = parsePromText(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
  const metric = (pool: string, reason: string): number | undefined =>
    sampleValue(fams, 'netmon_backend_response_errors_total', { pool, backend: 'stopped', reason });
  assert.deepEqual([metric('plain', 'timeout'), metric('plain', 'empty')], [1, 0]);
  assert.equal(metric('replay', 'timeout'), s.responseErrors.timeout);
});
