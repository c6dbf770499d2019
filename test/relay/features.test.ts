// What the relay keeps beyond moving bytes, on every relay path, over real
// sockets, with a real `netmon daemon` (its access lines on stdout): the
// listener's timeouts.client_idle, the pool's timeouts.first_byte (a backend
// that accepts and never answers), retry_on empty_response (the client's bytes
// replayed, byte for byte, to the next backend) and protocol counting without
// routes, from the side that speaks first (the client, or a server's greeting).
import { test } from 'node:test';
import { waitFor } from '../helpers/servers.js';
import type { BackendSnapshot } from '../../daemon/control/snapshot/snapshot.js';
import { assert, RELAY_PATHS, connect, pattern, server } from './harness.js';
import { access, collect, daemon, stats, type Server } from './logged.js';

/** A backend that reads and never answers (a stopped process's kernel would do the same); `seen`: bytes per connection. */
async function mute(): Promise<Server & { seen: Buffer[] }> {
  const seen: Buffer[] = [];
  const s = await server((c) => {
    const i = seen.push(Buffer.alloc(0)) - 1;
    c.on('error', () => {});
    c.on('data', (b: Buffer) => (seen[i] = Buffer.concat([seen[i]!, b])));
  });
  return Object.assign(s, { seen });
}

/** A backend that answers each line with "ok <its length>\n"; `seen`: bytes per connection. */
async function answering(): Promise<Server & { seen: Buffer[] }> {
  const seen: Buffer[] = [];
  const s = await server((c) => {
    const i = seen.push(Buffer.alloc(0)) - 1;
    c.on('error', () => {});
    c.on('data', (b: Buffer) => {
      seen[i] = Buffer.concat([seen[i]!, b]);
      if (seen[i]!.includes(0x0a)) c.end(`ok ${seen[i]!.length}\n`);
    });
    c.on('end', () => c.end());
  });
  return Object.assign(s, { seen });
}

for (const path of RELAY_PATHS) {
  test(`${path}: timeouts.client_idle closes a silent client, counted as client_idle_timeout`, async (t) => {
    const echo = await server((c) => {
      c.on('error', () => {});
      c.pipe(c);
    });
    t.after(() => echo.close());
    const { d, ports } = await daemon(t, path, {
      short: {
        keys: ['timeouts = { client_idle = "300ms" }'],
        pool: ['timeouts = { idle = "30s" }'],
        backends: [{ name: 'e', port: echo.port }],
      },
      long: {
        keys: ['timeouts = { client_idle = "30s" }'],
        pool: ['timeouts = { idle = "400ms" }'],
        backends: [{ name: 'e', port: echo.port }],
      },
    });
    const started = performance.now();
    const [a, b] = await Promise.all([connect(ports['short']!), connect(ports['long']!)]);
    // a few bytes each way first: the idle time counts from the last one
    a.write('x');
    b.write('y');
    const [ra, rb] = await Promise.all([collect(a), collect(b)]);
    const ms = performance.now() - started;
    assert.deepEqual(ra, { text: 'x', how: 'fin' }, 'closed, not reset');
    assert.deepEqual(rb, { text: 'y', how: 'fin' });
    assert.ok(ms < 5000, `closed after ${ms} ms`);
    await waitFor(() => access(d, 'short').length === 1 && access(d, 'long').length === 1, 5000, 'the access lines');
    const line = access(d, 'short')[0]!;
    assert.equal(line['termination'], 'client_idle_timeout');
    assert.ok((line['duration_ms'] as number) >= 290, `after client_idle: ${String(line['duration_ms'])} ms`);
    assert.equal(line['bytes_in'], 1);
    assert.equal(line['bytes_out'], 1);
    // the pool's idle timeout is the shorter there
    assert.equal(access(d, 'long')[0]!['termination'], 'idle_timeout');
    const s = await stats(d);
    assert.ok(s.listeners.every((l) => l.active === 0));
    assert.ok(s.backends.every((x) => x.active === 0 && x.responseErrors.timeout === 0));
  });

  test(`${path}: timeouts.first_byte: a backend that never answers is reset (no retry) or replayed to another`, async (t) => {
    const silent = await mute();
    const good = await answering();
    t.after(async () => {
      await silent.close();
      await good.close();
    });
    const { d, ports } = await daemon(t, path, {
      plain: {
        pool: ['retries = 0', 'timeouts = { connect = "1s", first_byte = "300ms" }'],
        backends: [{ name: 'mute', port: silent.port }],
      },
      replay: {
        pool: [
          'retries = 1',
          'retry_on = ["connect_failure", "empty_response"]',
          'retry_buffer = "1KiB"',
          'timeouts = { connect = "1s", first_byte = "300ms" }',
        ],
        // the mute one first (its weight), the good one only by the retry
        backends: [
          { name: 'mute', port: silent.port },
          { name: 'good', port: good.port },
        ],
      },
    });
    const plain = await connect(ports['plain']!);
    plain.write('ping\n');
    assert.deepEqual(await collect(plain), { text: '', how: 'reset' });
    const body = Buffer.concat([pattern(600, 7).map((x) => (x === 0x0a ? 0x0b : x)), Buffer.from('\n')]);
    const replay = await connect(ports['replay']!);
    replay.write(body);
    assert.deepEqual(await collect(replay), { text: `ok ${body.length}\n`, how: 'fin' });
    assert.equal(good.seen.length, 1);
    assert.ok(good.seen[0]!.equals(body), 'the replay: the exact bytes');

    await waitFor(() => access(d, 'plain').length === 1 && access(d, 'replay').length === 1, 5000, 'access lines');
    const p = access(d, 'plain')[0]!;
    assert.equal(p['termination'], 'first_byte_timeout');
    assert.equal(p['error'], 'E_FIRST_BYTE_TIMEOUT');
    assert.equal(p['first_byte_ms'], null);
    assert.equal(p['backend'], 'plain/mute');
    const r = access(d, 'replay')[0]!;
    assert.equal(r['termination'], 'backend_close');
    assert.equal(r['attempts'], 2);
    assert.equal(r['backend'], 'replay/good');
    assert.equal(r['bytes_in'], body.length, 'the client bytes counted once');
    const s = await stats(d);
    const b = (pool: string, name: string): BackendSnapshot =>
      s.backends.find((x) => x.pool === pool && x.name === name)!;
    assert.deepEqual([b('plain', 'mute').responseErrors.timeout, b('plain', 'mute').retries], [1, 0]);
    assert.deepEqual([b('replay', 'mute').responseErrors.timeout, b('replay', 'mute').retries], [1, 1]);
    assert.equal(b('replay', 'good').bytesIn, body.length, 'the replayed bytes counted for the backend that got them');
    assert.ok(s.listeners.every((l) => l.active === 0));
  });

  test(`${path}: retry_on empty_response replays the exact client bytes to the next backend, within retry_buffer`, async (t) => {
    // resets each connection once it has read a whole line, without a byte back
    const failing = await server((c) => {
      c.on('error', () => {});
      c.on('data', (b: Buffer) => {
        if (b.includes(0x0a)) c.resetAndDestroy();
      });
    });
    const good = await answering();
    t.after(async () => {
      await failing.close();
      await good.close();
    });
    const { d, ports } = await daemon(t, path, {
      replay: {
        pool: [
          'retries = 1',
          'retry_on = ["connect_failure", "empty_response"]',
          'retry_buffer = "64KiB"',
          'passive = { consecutive_failures = 0 }',
        ],
        backends: [
          { name: 'failing', port: failing.port },
          { name: 'good', port: good.port },
        ],
      },
    });
    // 40 KiB in several writes (bulk sized reads included), every byte value but the newline, then one
    const body = Buffer.concat([pattern(40 * 1024, 3).map((x) => (x === 0x0a ? 0x0b : x)), Buffer.from('\n')]);
    const c = await connect(ports['replay']!);
    for (let i = 0; i < body.length; i += 10_000) c.write(body.subarray(i, i + 10_000));
    assert.deepEqual(await collect(c), { text: `ok ${body.length}\n`, how: 'fin' });
    assert.equal(good.seen.length, 1);
    assert.ok(good.seen[0]!.equals(body), 'the second backend got the client bytes exactly once, in order');

    // more than retry_buffer: not replayed, the client sees the reset the backend sent
    const big = Buffer.concat([Buffer.alloc(70 * 1024, 'R'), Buffer.from('\n')]);
    const c2 = await connect(ports['replay']!);
    c2.write(big);
    assert.deepEqual(await collect(c2), { text: '', how: 'reset' });
    assert.equal(good.seen.length, 1, 'the good backend never saw it');

    await waitFor(() => access(d, 'replay').length === 2, 5000, 'the access lines');
    const [first, second] = access(d, 'replay');
    assert.deepEqual(
      [first!['termination'], first!['attempts'], first!['backend']],
      ['backend_close', 2, 'replay/good'],
    );
    // relayed as it was: the reset passed on, not an empty response
    assert.deepEqual(
      [second!['termination'], second!['error'], second!['backend']],
      ['backend_reset', null, 'replay/failing'],
    );
    const s = await stats(d);
    const f = s.backends.find((x) => x.name === 'failing')!;
    assert.deepEqual([f.responseErrors.empty, f.retries], [1, 1]);
    assert.deepEqual(f.resets, { client: 0, backend: 1 });
    assert.deepEqual(s.listeners[0]!.resets, { client: 0, backend: 1 });
  });

  test(`${path}: protocols are counted without routes, from the client or from a server's greeting`, async (t) => {
    const echo = await server((c) => {
      c.on('error', () => {});
      c.pipe(c);
    });
    // a greeting line longer than one event's bytes: "SMTP" comes after its first 48 bytes
    const greetings = ['SSH-2.0-OpenSSH_9.6\r\n', `220 ${'mail-relay-'.repeat(5)}example.org ESMTP Postfix\r\n`];
    const greeters = await Promise.all(
      greetings.map((g) =>
        server((c) => {
          c.on('error', () => {});
          c.write(g);
          c.resume();
          c.on('end', () => c.end());
        }),
      ),
    );
    t.after(async () => {
      await echo.close();
      for (const g of greeters) await g.close();
    });
    const { d, ports } = await daemon(t, path, {
      client: { keys: ['inspect_delay = "1s"'], pool: [], backends: [{ name: 'echo', port: echo.port }] },
      ssh: { keys: ['inspect_delay = "1s"'], pool: [], backends: [{ name: 'ssh', port: greeters[0]!.port }] },
      smtp: { keys: ['inspect_delay = "1s"'], pool: [], backends: [{ name: 'smtp', port: greeters[1]!.port }] },
    });
    const hello = Buffer.from('16030100a5010000a10303', 'hex');
    for (const first of [hello, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.from('SSH-2.0-client\r\n')]) {
      const c = await connect(ports['client']!);
      const got = collect(c);
      c.end(first);
      assert.equal((await got).text, first.toString('latin1'));
    }
    // a client that closes without a byte: unknown
    const quiet = await connect(ports['client']!);
    const q = collect(quiet);
    quiet.end();
    await q;
    for (const [name, g] of [
      ['ssh', greetings[0]!],
      ['smtp', greetings[1]!],
    ] as const) {
      const c = await connect(ports[name]!);
      const got = collect(c);
      await new Promise<void>((r) => c.once('data', () => r()));
      c.end('QUIT\r\n');
      assert.equal((await got).text, g);
    }
    await waitFor(() => access(d, 'client').length === 4, 5000, 'the access lines');
    const counted = async (name: string): Promise<Record<string, number>> => {
      const l = (await stats(d)).listeners.find((x) => x.name === name)!;
      return Object.fromEntries(Object.entries(l.protocols).filter(([, n]) => n > 0));
    };
    await waitFor(async () => Object.keys(await counted('smtp')).length > 0, 5000, 'the counts');
    assert.deepEqual(await counted('client'), { tls: 1, http1: 1, ssh: 1, unknown: 1 });
    assert.deepEqual(await counted('ssh'), { ssh: 1 });
    assert.deepEqual(await counted('smtp'), { smtp: 1 });
  });
}
