// A graceful and an immediate stop, over real sockets: open connections finish
// (graceful) or are cut through their own close path (immediate), and every
// reservation they held is given back by the worker itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/servers.js';
import { ZERO, held, startScripted, Client } from './termination-helpers.js';
import { createRegistry } from '../../daemon/control/metrics/registry.js';
import { parsePromText } from '../metrics/prom-text.js';

/** One listener in front of one backend that allows one connection and queues one more; a peeking listener. */
function small(port: number, peekPort: number, backend: number): string {
  return [
    'workers = 2',
    'drain_timeout = "10s"',
    '[metrics]',
    'listen = "off"',
    '[control]',
    `socket = "/tmp/netmon-terminations-${process.pid}-${port}.sock"`,
    '[log]',
    'level = "warn"',
    '[[listener]]',
    'name = "main"',
    `bind = "127.0.0.1:${port}"`,
    'pool = "main"',
    '[[listener]]',
    'name = "peek"',
    `bind = "127.0.0.1:${peekPort}"`,
    'pool = "main"',
    'inspect_delay = "30s"',
    'source_limits = { max_connections = 10, table_size = 64 }',
    '[[listener.route]]',
    'protocol = "tls"',
    'pool = "main"',
    '[pool.main]',
    'health = { type = "none" }',
    'queue_size = 4',
    'timeouts = { queue = "30s" }',
    '[[pool.main.backend]]',
    'name = "b"',
    `address = "127.0.0.1:${backend}"`,
    'max_connections = 1',
  ].join('\n');
}

/** netmon_stop_resets_total by `what`, as a scrape shows it. */
async function stopResets(td: TestDaemon): Promise<Record<string, number>> {
  const fams = parsePromText(await createRegistry(td.daemon).metrics());
  const out: Record<string, number> = {};
  for (const s of fams.get('netmon_stop_resets_total')!.samples) out[s.labels['what']!] = s.value;
  return out;
}

/** The main thread's warning that counts the connections a stop cut. */
function cutWarnings(td: TestDaemon): Record<string, unknown>[] {
  return td.logs.filter((l) => typeof l.msg === 'string' && l.msg.includes('open connection(s) cut with a reset'));
}

/** The supervisor's warning when a worker exited still holding reservations (it gives them back itself). */
function reclaimed(td: TestDaemon): unknown[] {
  return td.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('worker exited holding'));
}

test('graceful stop: listeners close, open connections finish and give back what they hold', async () => {
  const backend = await startScripted('b');
  const port = await freePort();
  const peekPort = await freePort();
  const td = await startTestDaemon(small(port, peekPort, backend.port));
  const d = td.daemon;
  try {
    const open = new Client(port);
    await open.until('b\n');
    const stopped = d.stop(true);
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const probe = net.connect({ host: '127.0.0.1', port });
          probe.on('error', () => resolve(true));
          probe.on('connect', () => {
            probe.destroy();
            resolve(false);
          });
        }),
      5000,
      'the listener closed',
    );
    open.socket.write('still served\n');
    await open.until('still served\n');
    open.socket.end();
    await open.closed;
    await stopped;
    assert.deepEqual(held(d), ZERO);
    assert.deepEqual(reclaimed(td), [], 'every worker had released everything before it exited');
    // nothing was cut: no warning, nothing counted (a probe above may have been in an accept queue as it closed)
    assert.deepEqual(cutWarnings(td), []);
    assert.equal((await stopResets(td))['connection'], 0);
  } finally {
    await backend.close();
  }
});

test('immediate stop: relaying, queued and peeking connections are cut through their close path', async () => {
  const backend = await startScripted('b');
  const port = await freePort();
  const peekPort = await freePort();
  const td = await startTestDaemon(small(port, peekPort, backend.port));
  const d = td.daemon;
  let stopped = false;
  try {
    const relaying = new Client(port);
    await relaying.until('b\n');
    const queued = new Client(port);
    const peeking = new Client(peekPort);
    // a worker takes a peeking connection's source entry a moment before its listener slot: wait for both
    const open = { listeners: 3, backends: 1, workers: 3, sources: 1, queued: 1 };
    const all = (): boolean => JSON.stringify(held(d)) === JSON.stringify(open);
    await waitFor(all, 5000, 'one relaying, one queued, one peeking').catch(() => undefined);
    assert.deepEqual(held(d), open);
    stopped = true;
    await d.stop(false);
    await Promise.all([relaying.closed, queued.closed, peeking.closed]);
    // cut, not complete: each client sees a reset
    assert.deepEqual(
      [relaying, queued, peeking].map((c) => c.error?.code),
      ['ECONNRESET', 'ECONNRESET', 'ECONNRESET'],
    );
    assert.deepEqual(held(d), ZERO);
    assert.deepEqual(reclaimed(td), [], 'the workers cut their connections themselves before exiting');
    // counted: one warning with the count, and the counter
    const cut = cutWarnings(td);
    assert.equal(cut.length, 1, JSON.stringify(cut));
    assert.equal(cut[0]!['connections'], 3);
    assert.equal(cut[0]!['cause'], 'immediate_stop');
    assert.equal((await stopResets(td))['connection'], 3);
  } finally {
    // a failed assertion before the stop must not leave the daemon running (the file would never end)
    if (!stopped) await d.stop(false);
    await backend.close();
  }
});
