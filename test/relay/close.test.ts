// How connections end, on every relay path: a FIN passed on as a FIN while the
// other way keeps flowing (half-close, both ways round), a reset passed on as
// a reset (both ways round), the idle timeout (and no timeout while bytes
// flow), an immediate stop (a reset to both sides), a graceful stop (open
// connections finish, nothing new is accepted) and a reload under an open
// connection. Every test ends with everything given back.
import { test } from 'node:test';
import type net from 'node:net';
import { assert, RELAY_PATHS, allClosed, connect, ending, server, startRelay } from './harness.js';
import { waitFor } from '../helpers/servers.js';
import { simpleConfig } from '../helpers/daemon.js';

/** Reads everything a socket sends until its FIN or close. */
function readAll(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('error', () => {});
    s.on('close', () => resolve(Buffer.concat(parts)));
  });
}

/** Waits for the next backend connection a server hands over. */
function nextConnection(): { take: (s: net.Socket) => void; next: Promise<net.Socket> } {
  let take!: (s: net.Socket) => void;
  const next = new Promise<net.Socket>((r) => (take = r));
  return { take, next };
}

for (const path of RELAY_PATHS) {
  test(`${path}: half-close: the client's FIN reaches the backend, whose reply still reaches the client`, async () => {
    const backend = await server((s) => {
      let n = 0;
      s.on('data', (d: Buffer) => (n += d.length));
      s.on('end', () => setTimeout(() => s.end(`received ${n} bytes\n`), 50));
    });
    const r = await startRelay(path, [{ name: 'hc', port: backend.port }]);
    try {
      const c = await connect(r.port);
      const how = ending(c);
      const reply = readAll(c);
      c.write('x'.repeat(1000));
      c.end('y'.repeat(234));
      c.on('end', () => c.end());
      assert.equal((await reply).toString(), 'received 1234 bytes\n');
      assert.equal(await how, 'fin');
      await allClosed(r.d);
    } finally {
      await r.stop();
      await backend.close();
    }
  });

  test(`${path}: half-close: the backend's FIN reaches the client, which goes on sending`, async () => {
    const got = nextConnection();
    const backend = await server((s) => {
      s.end('bye\n');
      got.take(s);
    });
    const r = await startRelay(path, [{ name: 'early', port: backend.port }]);
    try {
      const c = await connect(r.port);
      const b = await got.next;
      const received = readAll(b);
      const fromBackend = new Promise<string>((resolve) => {
        let text = '';
        c.on('data', (d: Buffer) => (text += d.toString()));
        c.on('end', () => resolve(text));
      });
      assert.equal(await fromBackend, 'bye\n');
      // after the backend's FIN the client's bytes still flow, then its own FIN ends the connection
      const more = Buffer.alloc(1024 * 1024, 7);
      c.write(more);
      c.end();
      assert.equal((await received).length, more.length);
      await allClosed(r.d);
    } finally {
      await r.stop();
      await backend.close();
    }
  });

  test(`${path}: a client's reset reaches the backend as a reset`, async () => {
    const got = nextConnection();
    const backend = await server((s) => {
      s.on('data', () => {});
      got.take(s);
    });
    const r = await startRelay(path, [{ name: 'b', port: backend.port }]);
    try {
      const c = await connect(r.port);
      c.on('error', () => {});
      c.write('hello');
      const b = await got.next;
      const how = ending(b);
      await new Promise<void>((res) => b.once('data', () => res()));
      c.resetAndDestroy();
      assert.equal(await how, 'reset');
      await allClosed(r.d);
    } finally {
      await r.stop();
      await backend.close();
    }
  });

  test(`${path}: a backend's reset reaches the client as a reset`, async () => {
    const backend = await server((s) => {
      s.on('error', () => {});
      s.once('data', () => s.resetAndDestroy());
    });
    const r = await startRelay(path, [{ name: 'b', port: backend.port }]);
    try {
      const c = await connect(r.port);
      const how = ending(c);
      c.write('hello');
      assert.equal(await how, 'reset');
      await allClosed(r.d);
    } finally {
      await r.stop();
      await backend.close();
    }
  });

  test(`${path}: idle timeout: no byte either way closes both sides; bytes that keep flowing keep it open`, async () => {
    const got = nextConnection();
    const backend = await server((s) => {
      s.on('error', () => {});
      s.on('data', (d: Buffer) => s.write(d));
      got.take(s);
    });
    const r = await startRelay(path, [{ name: 'b', port: backend.port }], { idle: '300ms' });
    try {
      // traffic every 100 ms for 1.2 s: four idle timeouts' worth, and still open
      const c = await connect(r.port);
      const cHow = ending(c);
      const b = await got.next;
      const bHow = ending(b);
      let quietSince = 0;
      for (let i = 0; i < 12; i++) {
        if (i > 0) await new Promise((res) => setTimeout(res, 100));
        c.write('.');
        await new Promise<void>((res) => c.once('data', () => res()));
        quietSince = Date.now();
      }
      assert.ok(!c.destroyed && !c.readableEnded, 'closed while bytes flowed');
      // then silence: closed after the timeout, both sides
      await cHow;
      const took = Date.now() - quietSince;
      assert.ok(took >= 250, `closed ${took} ms after the last byte, before the 300 ms timeout`);
      await bHow;
      await allClosed(r.d);
    } finally {
      await r.stop();
      await backend.close();
    }
  });

  test(`${path}: an immediate stop resets both sides of an open connection`, async () => {
    const got = nextConnection();
    const backend = await server((s) => {
      s.on('data', () => {});
      got.take(s);
    });
    const r = await startRelay(path, [{ name: 'b', port: backend.port }]);
    let stopped = false;
    try {
      const c = await connect(r.port);
      const cHow = ending(c);
      c.write('x');
      const b = await got.next;
      const bHow = ending(b);
      await new Promise<void>((res) => b.once('data', () => res()));
      await r.d.daemon.stop(false);
      stopped = true;
      assert.equal(await cHow, 'reset');
      assert.equal(await bHow, 'reset');
    } finally {
      if (!stopped) await r.stop();
      await backend.close();
    }
  });

  test(`${path}: a graceful stop lets an open connection finish and accepts nothing new`, async () => {
    const backend = await server((s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    const r = await startRelay(path, [{ name: 'b', port: backend.port }]);
    try {
      const c = await connect(r.port);
      const how = ending(c);
      c.write('before');
      await new Promise<void>((res) => c.once('data', () => res()));
      const stopping = r.d.daemon.stop(true);
      // the listener is closed first: a new client is refused...
      await waitFor(
        () =>
          new Promise<boolean>((res) => {
            connect(r.port).then(
              (s) => {
                s.destroy();
                res(false);
              },
              () => res(true),
            );
          }),
        5000,
        'the listener to close',
      );
      // ...while the open one still relays both ways, and ends as it wants
      c.write('after');
      const echoed = await new Promise<string>((res) => c.once('data', (d: Buffer) => res(d.toString())));
      assert.equal(echoed, 'after');
      c.end();
      assert.equal(await how, 'fin');
      await stopping;
    } finally {
      await backend.close();
    }
  });

  test(`${path}: a reload under an open connection leaves it relaying`, async () => {
    const backend = await server((s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    const other = await server((s) => s.end());
    const r = await startRelay(path, [{ name: 'b', port: backend.port }]);
    try {
      const c = await connect(r.port);
      c.write('one');
      await new Promise<void>((res) => c.once('data', () => res()));
      // the pool gets a second backend: the open connection keeps its own
      r.d.setConfigText(
        simpleConfig({
          listenPort: r.port,
          backends: [
            { name: 'b', port: backend.port },
            { name: 'o', port: other.port },
          ],
          extraTop: `[data]\nrelay = "${path}"`,
        }),
      );
      const result = await r.d.daemon.reload();
      assert.equal(result.outcome, 'applied');
      c.write('two');
      const echoed = await new Promise<string>((res) => c.once('data', (d: Buffer) => res(d.toString())));
      assert.equal(echoed, 'two');
      c.end();
      await allClosed(r.d);
    } finally {
      await r.stop();
      await backend.close();
      await other.close();
    }
  });
}
