// What a backend's first moments mean, on every relay path: the first byte
// timed from the client's first byte (a client that waits before it sends
// does not make its backend look slow), a backend that closes or resets
// before any byte either way retried on another one (retry_on connect_failure)
// and counted as an empty response, and resets counted by the side that sent them.
import { test } from 'node:test';
import type net from 'node:net';
import { assert, RELAY_PATHS, allClosed, connect, ending, server, startRelay } from './harness.js';

/** Resolves with everything the socket receives until `want` bytes (or its end). */
function receive(s: net.Socket, want: number): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    s.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.length >= want) resolve(text);
    });
    s.on('close', () => resolve(text));
  });
}

for (const path of RELAY_PATHS) {
  test(`${path}: the first byte is timed from the client's first byte, not from the connect`, async () => {
    // answers 50 ms after each request
    const backend = await server((s) => {
      s.on('error', () => {});
      s.on('data', () => setTimeout(() => s.writable && s.write('answer\n'), 50));
      s.on('end', () => s.end());
    });
    const r = await startRelay(path, [{ name: 'b', port: backend.port }]);
    try {
      const c = await connect(r.port);
      const answer = receive(c, 7);
      // the client thinks for 300 ms before it asks
      await new Promise((res) => setTimeout(res, 300));
      c.write('ask\n');
      assert.equal(await answer, 'answer\n');
      c.end();
      await allClosed(r.d);
      const b = r.d.daemon.snapshot().backends[0]!;
      assert.ok(b.ewmaFirstByteMs >= 45, `first byte ${b.ewmaFirstByteMs} ms: under the backend's 50 ms`);
      assert.ok(b.ewmaFirstByteMs < 250, `first byte ${b.ewmaFirstByteMs} ms: the client's wait was counted`);
    } finally {
      await r.stop();
      await backend.close();
    }
  });

  for (const how of ['FIN', 'reset'] as const) {
    test(`${path}: a backend that ends with a ${how} before any byte is retried on another; counted as an empty response`, async () => {
      const dead = await server((s) => {
        s.on('error', () => {});
        if (how === 'FIN') s.end();
        else s.resetAndDestroy();
      });
      const good = await server((s) => {
        s.on('error', () => {});
        s.write('good\n');
        s.pipe(s);
      });
      // round robin from the first: every other client meets the dead backend first
      const r = await startRelay(
        path,
        [
          { name: 'dead', port: dead.port },
          { name: 'good', port: good.port },
        ],
        { workers: 1 },
      );
      try {
        for (let i = 0; i < 4; i++) {
          // the client waits for the backend to speak first: nothing has happened when the dead one ends
          const c = await connect(r.port);
          assert.equal(await receive(c, 5), 'good\n', `client ${i}`);
          const echoed = receive(c, 5);
          c.write('ping\n');
          assert.equal(await echoed, 'ping\n');
          c.end();
        }
        await allClosed(r.d);
        const s = r.d.daemon.snapshot();
        const d = s.backends.find((b) => b.name === 'dead')!;
        const g = s.backends.find((b) => b.name === 'good')!;
        // every meeting with the dead backend is one failure and one retry (how many: round robin's turn); a
        // reset read before the connect completed is a failed connect rather than an empty response
        const connectErrors = d.connectErrors.refused + d.connectErrors.timeout + d.connectErrors.other;
        if (how === 'FIN') assert.equal(connectErrors, 0);
        const failures = d.responseErrors.empty + connectErrors;
        assert.ok(failures >= 1, `${d.responseErrors.empty} empty responses, ${connectErrors} failed connects`);
        assert.equal(d.retries, failures);
        assert.equal(g.connections, 4);
        assert.equal(g.bytesIn, 4 * 5);
      } finally {
        await r.stop();
        await dead.close();
        await good.close();
      }
    });
  }

  test(`${path}: resets are counted by the side that sent them, on the listener and the backend`, async () => {
    const backend = await server((s) => {
      s.on('error', () => {});
      s.on('data', (d: Buffer) => {
        if (d.toString() === 'reset me') s.resetAndDestroy();
        else s.write(d);
      });
    });
    const r = await startRelay(path, [{ name: 'b', port: backend.port }]);
    try {
      // the backend resets: the client sees a reset
      const a = await connect(r.port);
      const aHow = ending(a);
      a.write('hello');
      await new Promise<void>((res) => a.once('data', () => res()));
      a.write('reset me');
      assert.equal(await aHow, 'reset');
      // the client resets
      const b = await connect(r.port);
      b.on('error', () => {});
      b.write('hello');
      await new Promise<void>((res) => b.once('data', () => res()));
      b.resetAndDestroy();
      await allClosed(r.d);
      const s = r.d.daemon.snapshot();
      assert.deepEqual(s.backends[0]!.resets, { client: 1, backend: 1 });
      assert.deepEqual(s.listeners[0]!.resets, { client: 1, backend: 1 });
    } finally {
      await r.stop();
      await backend.close();
    }
  });
}
