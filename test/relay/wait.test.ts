// How the native relay is woken (daemon/data/native/wait.c): while every
// listener of a worker accepts in the relay, the relay waits in the event
// loop's place; a listener Node accepts on (here one reading a PROXY header
// first) puts the loop back in charge, for as long as it exists. Across both
// changes, made by reloads under an open connection, that connection keeps
// relaying both ways and each listener serves new clients: a relay no longer
// woken, or a Node socket the loop no longer watches, would stall them (every
// wait below is bounded).
import { test } from 'node:test';
import net from 'node:net';
import { simpleConfig } from '../helpers/daemon.js';
import { freePort } from '../helpers/servers.js';
import { assert, RELAY_PATHS, allClosed, connect, server, startRelay } from './harness.js';

const BOUND_MS = 5000;

function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${BOUND_MS} ms`)), BOUND_MS);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Writes `text` on `c` and resolves with what comes back (an echo backend). */
function echo(c: net.Socket, text: string): Promise<string> {
  const got = new Promise<string>((res) => c.once('data', (d: Buffer) => res(d.toString())));
  c.write(text);
  return within(got, `the echo of ${text}`);
}

/** A new client on `port` (with `preamble` first) gets its echo back. */
async function served(port: number, preamble = ''): Promise<string> {
  const c = await connect(port);
  try {
    return await echo(c, `${preamble}hello`);
  } finally {
    c.destroy();
  }
}

if (RELAY_PATHS.includes('native')) {
  test('native: a listener Node accepts on, added and removed by reloads, changes how the relay waits; nothing stalls', async () => {
    const backend = await server((s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    const r = await startRelay('native', [{ name: 'b', port: backend.port }], { workers: 1 });
    const proxied = await freePort();
    const config = (withProxied: boolean): string => {
      const base = simpleConfig({
        listenPort: r.port,
        backends: [{ name: 'b', port: backend.port }],
        workers: 1,
        extraTop: '[data]\nrelay = "native"',
      });
      if (!withProxied) return base;
      return (
        base +
        [
          '[[listener]]',
          'name = "proxied"',
          `bind = "127.0.0.1:${proxied}"`,
          'pool = "web"',
          'proxy_protocol = "v1"',
          'trusted_proxies = ["127.0.0.1"]',
        ].join('\n') +
        '\n'
      );
    };
    const header = (c: string): string => `PROXY TCP4 192.0.2.7 127.0.0.1 ${c} ${proxied}\r\n`;
    const inPlace = (): boolean => r.d.daemon.snapshot().workers.every((w) => w.relayInPlace);
    try {
      assert.equal(inPlace(), true, "every listener accepts in the relay: it waits in the loop's place");
      const open = await connect(r.port);
      assert.equal(await echo(open, 'one'), 'one');

      // a listener read by Node first: the loop watches the relay again
      r.d.setConfigText(config(true));
      assert.equal((await r.d.daemon.reload()).outcome, 'applied');
      assert.equal(inPlace(), false, 'a listener Node accepts on: the loop watches the relay');
      assert.equal(await echo(open, 'two'), 'two', 'the open connection relays after the change');
      for (let i = 0; i < 20; i++) {
        assert.equal(await served(proxied, header(String(40000 + i))), 'hello', 'the PROXY listener serves');
        assert.equal(await served(r.port), 'hello', 'the relay-accepted listener serves');
      }
      assert.equal(await echo(open, 'three'), 'three');

      // gone again: the relay waits in the loop's place again
      r.d.setConfigText(config(false));
      assert.equal((await r.d.daemon.reload()).outcome, 'applied');
      assert.equal(inPlace(), true, "the relay waits in the loop's place again");
      assert.equal(await echo(open, 'four'), 'four', 'the open connection relays after the change back');
      for (let i = 0; i < 20; i++) assert.equal(await served(r.port), 'hello');
      // timers still run while the relay waits: the graceful end of the open connection is seen
      open.end();
      await within(allClosed(r.d), 'every connection closed');
    } finally {
      await r.stop();
      await backend.close();
    }
  });
}
