// Retries over real sockets, on every relay path: a retry takes no turn of
// round robin (with one of two backends refusing every connect, half of the
// new clients start on it, not all of them), a one-backend pool retries its
// backend after the turnaround of min(timeouts.connect, 1 s) (HAProxy's
// `retries`), and when every attempt failed the refusal says so
// (`connect_failed`), apart from a pool with no backend to try (`no_backend`).
import { test } from 'node:test';
import type net from 'node:net';
import { deadPort, waitFor } from '../helpers/servers.js';
import { assert, RELAY_PATHS, allClosed, connect, ending, server, startRelay } from './harness.js';
import { access, daemon, stats } from './logged.js';

/** Connects, waits for `greeting` (or sends a line and waits for its echo), ends; resolves with what came. */
async function exchange(port: number, send: string | null, want: number): Promise<string> {
  const c = await connect(port);
  let text = '';
  const done = new Promise<void>((resolve) => {
    c.on('data', (b: Buffer) => {
      text += b.toString();
      if (text.length >= want) resolve();
    });
    c.on('close', () => resolve());
  });
  c.on('error', () => {});
  if (send !== null) c.write(send);
  await done;
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  c.end();
  if (!c.destroyed) await closed;
  return text;
}

for (const path of RELAY_PATHS) {
  test(`${path}: round robin, one of two backends refusing: half of the new clients start on it, each retried once`, async () => {
    const echo = await server((s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    const refusing = await deadPort();
    // two workers, one shared rotation; passive ejection off, so the refusing backend stays in it
    const r = await startRelay(
      path,
      [
        { name: 'bh', port: refusing },
        { name: 'good', port: echo.port },
      ],
      { pool: 'passive = { consecutive_failures = 0 }' },
    );
    try {
      const N = 20;
      for (let i = 0; i < N; i++) assert.equal(await exchange(r.port, `x${i}\n`, `x${i}\n`.length), `x${i}\n`);
      await allClosed(r.d);
      const s = r.d.daemon.snapshot();
      const bh = s.backends.find((b) => b.name === 'bh')!;
      const good = s.backends.find((b) => b.name === 'good')!;
      // each client that started on bh failed there once and was retried on good
      const startedOnBh = bh.connectErrors.refused;
      assert.ok(Math.abs(startedOnBh - N / 2) <= 1, `${startedOnBh} of ${N} clients started on the refusing backend`);
      assert.equal(bh.retries, startedOnBh);
      assert.equal(good.connections, N);
      assert.equal(s.listeners[0]!.rejected['connect_failed'], 0);
    } finally {
      await r.stop();
      await echo.close();
    }
  });

  test(`${path}: a one-backend pool retries its backend after min(timeouts.connect, 1 s)`, async (t) => {
    // resets its first connection at the accept (a process dying with it in its queue), then greets
    const accepts: number[] = [];
    const flaky = await server((s) => {
      s.on('error', () => {});
      accepts.push(performance.now());
      if (accepts.length === 1) return s.resetAndDestroy();
      s.write('hello\n');
      s.on('end', () => s.end());
    });
    t.after(() => flaky.close());
    const { d, ports } = await daemon(t, path, {
      one: {
        pool: ['retries = 1', 'timeouts = { connect = "300ms" }', 'passive = { consecutive_failures = 0 }'],
        backends: [{ name: 'only', port: flaky.port }],
      },
    });
    assert.equal(await exchange(ports['one']!, null, 'hello\n'.length), 'hello\n');
    assert.equal(accepts.length, 2, 'the retry went to the same backend');
    const gap = accepts[1]! - accepts[0]!;
    assert.ok(gap >= 280, `retried ${gap.toFixed(0)} ms after the failed attempt: the 300 ms turnaround first`);
    await waitFor(() => access(d, 'one').length === 1, 5000, 'the access line');
    const line = access(d, 'one')[0]!;
    assert.deepEqual(
      [line['termination'], line['error'], line['attempts'], line['backend']],
      ['client_close', null, 2, 'one/only'],
    );
    const b = (await stats(d)).backends.find((x) => x.name === 'only')!;
    // the reset is an empty answer, or a failed connect when it came before the connect was seen
    const failed = b.responseErrors.empty + b.connectErrors.refused + b.connectErrors.other;
    assert.deepEqual([failed, b.retries], [1, 1]);
  });

  test(`${path}: every connect refused: all the attempts are made, and the refusal is connect_failed, not no_backend`, async (t) => {
    const refusing = await deadPort();
    const { d, ports } = await daemon(t, path, {
      // one backend, retries = 2: three connects to it, 100 ms apart
      one: {
        pool: ['retries = 2', 'timeouts = { connect = "100ms" }', 'passive = { consecutive_failures = 0 }'],
        backends: [{ name: 'only', port: refusing }],
      },
    });
    const c: net.Socket = await connect(ports['one']!);
    assert.equal(await ending(c), 'reset');
    await waitFor(() => access(d, 'one').length === 1, 5000, 'the access line');
    const line = access(d, 'one')[0]!;
    assert.deepEqual(
      [line['termination'], line['reason'], line['error'], line['attempts']],
      ['connect_failed', 'connect_failed', 'E_CONNECT_REFUSED', 3],
    );
    assert.ok((line['duration_ms'] as number) >= 190, `${String(line['duration_ms'])} ms: two turnarounds of 100 ms`);
    const s = await stats(d);
    const b = s.backends.find((x) => x.name === 'only')!;
    assert.deepEqual([b.connectErrors.refused, b.retries], [3, 2]);
    const rejected = s.listeners.find((l) => l.name === 'one')!.rejected;
    assert.deepEqual([rejected['connect_failed'], rejected['no_backend']], [1, 0]);
  });
}
