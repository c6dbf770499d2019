// A backend's FIN before its first byte that is not retried, on every relay
// path: passed on as a FIN (half-close), never as a full close, so a client
// still sending (a request body, a protocol whose server half-closes first)
// gets every byte to the backend, and the connection ends once both sides
// have ended. Counted as an empty response when the FIN is the backend
// failing (nothing had happened yet, or the client's bytes were kept for a
// replay and no attempt is left), and logged as backend_close. Around it: the
// retry while attempts remain (the failed backend is reset, not left to take
// a half-sent request for a whole one), timeouts.first_byte, which a FIN
// ends: the backend answered, with nothing, and a reset after that FIN, passed
// on, never taken for an empty answer to retry elsewhere.
import { test } from 'node:test';
import { waitFor } from '../helpers/servers.js';
import type { BackendSnapshot } from '../../daemon/control/snapshot/snapshot.js';
import { assert, RELAY_PATHS, connect, ending, pattern, server } from './harness.js';
import { access, daemon, stats, type Server } from './logged.js';

interface BackendConn {
  /** every byte it received so far */
  bytes: Buffer;
  /** how the relay ended it: a FIN, a reset, or a close with neither */
  how: Promise<'fin' | 'reset' | 'closed'>;
  closed: Promise<void>;
}

/** A backend that sends its FIN, and no byte, at the accept (`accept`) or once it has read a newline (`line`). */
async function finning(when: 'accept' | 'line'): Promise<Server & { conns: BackendConn[] }> {
  const conns: BackendConn[] = [];
  const s = await server((c) => {
    const conn: BackendConn = {
      bytes: Buffer.alloc(0),
      how: ending(c),
      closed: new Promise<void>((r) => c.on('close', () => r())),
    };
    conns.push(conn);
    c.on('data', (b: Buffer) => {
      conn.bytes = Buffer.concat([conn.bytes, b]);
      if (when === 'line' && b.includes(0x0a) && !c.writableEnded) c.end();
    });
    if (when === 'accept') c.end();
  });
  return Object.assign(s, { conns });
}

/**
 * A client that sends `first` (if any), waits for the FIN the relay passes on,
 * then sends `body` in `pieces` writes `gapMs` apart and its own FIN. Resolves
 * with what it received and the error its socket saw (null: none), once closed.
 */
async function sendAfterFin(
  port: number,
  first: Buffer | null,
  body: Buffer,
  pieces = 4,
  gapMs = 0,
): Promise<{ received: string; error: string | null }> {
  const c = await connect(port);
  let received = '';
  let error: string | null = null;
  c.on('data', (b: Buffer) => (received += b.toString('latin1')));
  c.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
  const closed = new Promise<void>((r) => c.on('close', () => r()));
  const ended = new Promise<boolean>((r) => {
    c.once('end', () => r(true));
    c.once('close', () => r(false));
  });
  if (first !== null) c.write(first);
  assert.equal(await ended, true, 'the FIN reached the client');
  const step = Math.ceil(body.length / pieces);
  for (let i = 0; i < body.length; i += step) {
    if (i > 0 && gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    if (c.destroyed) break;
    c.write(body.subarray(i, i + step));
  }
  if (!c.destroyed) c.end();
  await closed;
  return { received, error };
}

function backend(s: { backends: BackendSnapshot[] }, pool: string, name: string): BackendSnapshot {
  return s.backends.find((b) => b.pool === pool && b.name === name)!;
}

for (const path of RELAY_PATHS) {
  for (const [label, keys] of [
    ['no attempt left (retries = 0)', ['retries = 0']],
    ['retry_on without connect_failure', ['retry_on = []']],
  ] as const) {
    test(`${path}: a backend's FIN before anything happened, not retried (${label}), is passed on as a half-close`, async (t) => {
      const fin = await finning('accept');
      t.after(() => fin.close());
      const { d, ports } = await daemon(t, path, {
        p: {
          pool: [...keys, 'timeouts = { connect = "2s" }', 'passive = { consecutive_failures = 2 }'],
          backends: [{ name: 'fin', port: fin.port }],
        },
      });
      // two clients one after the other: after the backend's FIN each still sends, 256 KiB, every byte value
      for (let i = 0; i < 2; i++) {
        const body = pattern(256 * 1024, 11 + i);
        const got = await sendAfterFin(ports['p']!, null, body);
        assert.deepEqual(got, { received: '', error: null }, `client ${i}: a FIN, no reset`);
        assert.equal(fin.conns.length, i + 1, 'one attempt each');
        const b = fin.conns[i]!;
        await b.closed;
        assert.equal(await b.how, 'fin', "the client's FIN reached the backend");
        assert.ok(b.bytes.equals(body), `the backend got ${b.bytes.length} of ${body.length} bytes, in order`);

        await waitFor(() => access(d, 'p').length === i + 1, 5000, 'the access line');
        const line = access(d, 'p')[i]!;
        assert.deepEqual(
          [line['termination'], line['error'], line['attempts'], line['backend']],
          ['backend_close', 'E_EMPTY_RESPONSE', 1, 'p/fin'],
        );
        assert.deepEqual([line['bytes_in'], line['bytes_out'], line['first_byte_ms']], [body.length, 0, null]);
      }
      const s = await stats(d);
      const f = backend(s, 'p', 'fin');
      assert.deepEqual([f.responseErrors.empty, f.retries, f.bytesOut], [2, 0, 0]);
      // two failures in a row: the client's FIN that followed each did not clear them
      assert.equal(f.passiveFailures, 1, 'passive health heard of two consecutive failures');
      assert.deepEqual(f.resets, { client: 0, backend: 0 });
      assert.deepEqual(s.listeners[0]!.resets, { client: 0, backend: 0 });
      assert.ok(s.listeners.every((l) => l.active === 0) && s.backends.every((x) => x.active === 0));
    });
  }

  test(`${path}: retry_on empty_response: a FIN before the first byte is retried with the replay while attempts remain, then passed on as a half-close`, async (t) => {
    const fin = await finning('line');
    t.after(() => fin.close());
    const { d, ports } = await daemon(t, path, {
      r: {
        pool: [
          'retries = 1',
          'retry_on = ["connect_failure", "empty_response"]',
          'retry_buffer = "4KiB"',
          'passive = { consecutive_failures = 0 }',
        ],
        // the same server twice: the retry goes to the other one
        backends: [
          { name: 'one', port: fin.port },
          { name: 'two', port: fin.port },
        ],
      },
    });
    const request = Buffer.from('PUT /thing HTTP/1.0\n');
    const body = pattern(100 * 1024, 5);
    const got = await sendAfterFin(ports['r']!, request, body);
    assert.deepEqual({ received: got.received, error: got.error }, { received: '', error: null }, 'a FIN, no reset');
    assert.equal(fin.conns.length, 2, 'one retry');
    const [first, second] = fin.conns;
    await Promise.all([first!.closed, second!.closed]);
    // the failed attempt is reset: it must not take the request it read for a whole one
    assert.equal(await first!.how, 'reset');
    assert.ok(first!.bytes.equals(request));
    // the last one got the replay, then the client's bytes sent after the FIN, then the client's FIN
    assert.equal(await second!.how, 'fin');
    assert.ok(second!.bytes.equals(Buffer.concat([request, body])), `${second!.bytes.length} bytes, in order`);

    await waitFor(() => access(d, 'r').length === 1, 5000, 'the access line');
    const line = access(d, 'r')[0]!;
    assert.deepEqual(
      [line['termination'], line['error'], line['attempts'], line['bytes_in'], line['bytes_out']],
      ['backend_close', 'E_EMPTY_RESPONSE', 2, request.length + body.length, 0],
    );
    const s = await stats(d);
    const one = backend(s, 'r', 'one');
    const two = backend(s, 'r', 'two');
    assert.deepEqual(
      [one.responseErrors.empty, one.retries, two.responseErrors.empty, two.retries],
      [1, 1, 1, 0],
      'each attempt an empty response, the first retried',
    );
    assert.equal(two.bytesIn, request.length + body.length, 'the replay counted for the backend that got it');
    assert.deepEqual(s.listeners[0]!.resets, { client: 0, backend: 0 });
  });

  test(`${path}: after a backend's FIN passed on, its reset is passed on too, never retried elsewhere`, async (t) => {
    // FIN at the accept, then a reset once the client's bytes arrive
    const finThenReset = await server((c) => {
      c.on('error', () => {});
      c.end();
      c.once('data', () => c.resetAndDestroy());
    });
    const other = await server((c) => {
      c.on('error', () => {});
      c.on('data', () => c.end('answer\n'));
    });
    t.after(async () => {
      await finThenReset.close();
      await other.close();
    });
    const { d, ports } = await daemon(t, path, {
      x: {
        // an empty answer before anything happened is not retried (no connect_failure), a replayed one would be
        pool: ['retries = 1', 'retry_on = ["empty_response"]', 'retry_buffer = "4KiB"'],
        backends: [
          { name: 'fin', port: finThenReset.port },
          { name: 'other', port: other.port },
        ],
      },
    });
    const c = await connect(ports['x']!);
    let received = '';
    let error: string | null = null;
    c.on('data', (b: Buffer) => (received += b.toString()));
    c.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    const closed = new Promise<void>((r) => c.on('close', () => r()));
    await new Promise<void>((r) => c.once('end', () => r()));
    c.write('line\n');
    // the reset shows when the client next writes: a few writes, 50 ms apart, until it does
    for (let i = 0; i < 40 && !c.destroyed; i++) {
      await new Promise((r) => setTimeout(r, 50));
      if (!c.destroyed) c.write('.');
    }
    await closed;
    assert.equal(received, '', 'nothing from another backend after the FIN');
    assert.ok(error === 'ECONNRESET' || error === 'EPIPE', `the client saw ${String(error)}`);
    assert.equal(other.sockets.size, 0);

    await waitFor(() => access(d, 'x').length === 1, 5000, 'the access line');
    const line = access(d, 'x')[0]!;
    assert.deepEqual(
      [line['termination'], line['error'], line['attempts'], line['backend']],
      ['backend_reset', 'E_EMPTY_RESPONSE', 1, 'x/fin'],
    );
    const s = await stats(d);
    const f = backend(s, 'x', 'fin');
    assert.deepEqual([f.responseErrors.empty, f.retries, f.resets.backend], [1, 0, 1]);
    assert.equal(backend(s, 'x', 'other').connections, 0);
  });

  test(`${path}: timeouts.first_byte ends at a backend's FIN: the client sending after it past the timeout is not reset`, async (t) => {
    const fin = await finning('accept');
    t.after(() => fin.close());
    const { d, ports } = await daemon(t, path, {
      fb: {
        pool: ['retries = 0', 'timeouts = { connect = "2s", first_byte = "200ms" }'],
        backends: [{ name: 'fin', port: fin.port }],
      },
    });
    // six pieces 100 ms apart: the first starts the first-byte clock, the last is sent 500 ms after it
    const body = pattern(6 * 1000, 2);
    const got = await sendAfterFin(ports['fb']!, null, body, 6, 100);
    assert.deepEqual({ received: got.received, error: got.error }, { received: '', error: null }, 'a FIN, no reset');
    const b = fin.conns[0]!;
    await b.closed;
    assert.equal(await b.how, 'fin');
    assert.ok(b.bytes.equals(body), `the backend got ${b.bytes.length} of ${body.length} bytes`);

    await waitFor(() => access(d, 'fb').length === 1, 5000, 'the access line');
    const line = access(d, 'fb')[0]!;
    assert.deepEqual([line['termination'], line['error']], ['backend_close', 'E_EMPTY_RESPONSE']);
    const f = backend(await stats(d), 'fb', 'fin');
    assert.deepEqual([f.responseErrors.empty, f.responseErrors.timeout], [1, 0]);
  });
}
