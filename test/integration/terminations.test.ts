// Every way a client connection can end, over real sockets: closes and resets
// from either side, timeouts, failed connects, the queue, every admission
// refusal, a bad PROXY header, the peek deadline, a disabled listener, reloads
// under an open connection, a graceful and an immediate stop. After each, every
// reservation the connection took is back: the active counts of listeners,
// backends, workers, per-source entries and pool queues are zero again.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Daemon } from '../../daemon/control/daemon.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { deadPort, freePort, startHungListener, waitFor } from '../helpers/servers.js';

interface Counts {
  listeners: number;
  backends: number;
  workers: number;
  sources: number;
  queued: number;
}
const ZERO: Counts = { listeners: 0, backends: 0, workers: 0, sources: 0, queued: 0 };

/** Every active count in the table, summed over all slots (removed ones still draining included). */
function held(d: Daemon): Counts {
  const t = d.table;
  const c = { ...ZERO };
  for (const slot of d.topology.listeners.bySlot.keys()) c.listeners += t.listeners.active(slot);
  for (const [, slot] of d.topology.backends.entries()) c.backends += t.backends.active(slot);
  for (let w = 0; w < t.cap.workers; w++) c.workers += t.workers.stats(w).active;
  for (let i = 0; i < t.sources.capacity; i++) c.sources += t.sources.active(i);
  for (const [, slot] of d.topology.pools.entries()) c.queued += t.pools.queued(slot);
  return c;
}

async function allReleased(d: Daemon, after: string): Promise<void> {
  const zero = (): boolean => Object.values(held(d)).every((n) => n === 0);
  await waitFor(zero, 5000, `every count back at zero after ${after}`).catch(() => undefined);
  assert.deepEqual(held(d), ZERO, `after ${after}`);
}

/** A backend that greets with its name, echoes, and on "FIN" ends, on "RST" resets its side. */
async function startScripted(name: string): Promise<{ port: number; close(): Promise<void> }> {
  const open = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (c) => {
    open.add(c);
    c.on('close', () => open.delete(c));
    c.on('error', () => {});
    c.write(`${name}\n`);
    c.on('data', (d: Buffer) => {
      const s = d.toString();
      if (s.includes('FIN')) c.end();
      else if (s.includes('RST')) c.resetAndDestroy();
      else c.write(d);
    });
    c.on('end', () => c.end());
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((r) => {
        for (const c of open) c.destroy();
        server.close(() => r());
      }),
  };
}

/** A client that records what it receives and how its connection ended. */
class Client {
  text = '';
  error: NodeJS.ErrnoException | null = null;
  readonly closed: Promise<void>;
  readonly socket: net.Socket;

  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.socket.setEncoding('utf8');
    this.socket.on('data', (d: string) => (this.text += d));
    this.socket.on('error', (e) => (this.error = e));
    this.closed = new Promise((r) => this.socket.once('close', () => r()));
  }

  /** Resolves when `text` has arrived; rejects if the connection closes first. */
  until(text: string, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.text.includes(text)) done(null);
        else if (this.socket.closed) done(new Error(`closed before "${text}" (got ${JSON.stringify(this.text)})`));
      };
      const done = (err: Error | null): void => {
        clearTimeout(timer);
        this.socket.off('data', check);
        this.socket.off('close', check);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => done(new Error(`no "${text}" within ${timeoutMs} ms`)), timeoutMs);
      this.socket.on('data', check);
      this.socket.on('close', check);
      queueMicrotask(check);
    });
  }

  /** Resolves when the connection has closed, with nothing received. */
  async refused(): Promise<void> {
    await this.closed;
    assert.equal(this.text, '', 'a refused client gets no byte from a backend');
  }
}

function rejected(d: Daemon, listener: string, reason: string): number {
  return d.snapshot().listeners.find((l) => l.name === listener)!.rejected[reason] ?? 0;
}

interface Ports {
  scripted: number;
  idle: number;
  dead: [number, number];
  hung: number;
  queue: number;
  listeners: Record<string, number>;
}

const LISTENERS = [
  'main',
  'idle',
  'refused',
  'hung',
  'queue',
  'acl',
  'rate',
  'persource',
  'full',
  'proxy',
  'peek',
  'gone',
];

/** The main daemon's config; `extra` adds top-level keys, `drop` leaves listeners (and their pools) out. */
function config(p: Ports, o: { top?: string[]; drop?: string[]; add?: string[] } = {}): string {
  const l = (name: string, pool: string, ...keys: string[]): string[] =>
    o.drop?.includes(name)
      ? []
      : ['[[listener]]', `name = "${name}"`, `bind = "127.0.0.1:${p.listeners[name]}"`, `pool = "${pool}"`, ...keys];
  const pool = (
    name: string,
    backends: { name: string; port: number; extra?: string }[],
    ...keys: string[]
  ): string[] =>
    o.drop?.includes(name)
      ? []
      : [
          `[pool.${name}]`,
          'health = { type = "none" }',
          ...keys,
          ...backends.flatMap((b) => [
            `[[pool.${name}.backend]]`,
            `name = "${b.name}"`,
            `address = "127.0.0.1:${b.port}"`,
            b.extra ?? '',
          ]),
        ];
  return [
    'workers = 2',
    ...(o.top ?? []),
    '[metrics]',
    'listen = "off"',
    '[control]',
    `socket = "/tmp/netmon-terminations-${process.pid}.sock"`,
    '[log]',
    'level = "warn"',
    ...l('main', 'main'),
    ...l('idle', 'idle'),
    ...l('refused', 'refused'),
    ...l('hung', 'hung'),
    ...l('queue', 'queue'),
    ...l('acl', 'main', 'deny = ["127.0.0.0/8"]'),
    ...l('rate', 'main', 'source_limits = { rate = 0.01, burst = 1, table_size = 64 }'),
    ...l('persource', 'main', 'source_limits = { max_connections = 1, table_size = 64 }'),
    ...l('full', 'main', 'max_connections = 1'),
    ...l('proxy', 'main', 'proxy_protocol = "v1"', 'trusted_proxies = ["127.0.0.1/32"]'),
    ...l('peek', 'main', 'inspect_delay = "200ms"'),
    ...(o.drop?.includes('peek') ? [] : ['[[listener.route]]', 'protocol = "tls"', 'pool = "idle"']),
    ...l('gone', 'gone'),
    ...(o.add ?? []),
    ...pool('main', [{ name: 'b', port: p.scripted }], 'retries = 0', 'timeouts = { connect = "1s", idle = "30s" }'),
    ...pool('idle', [{ name: 'b', port: p.idle }], 'timeouts = { connect = "1s", idle = "200ms" }'),
    ...pool(
      'refused',
      [
        { name: 'd1', port: p.dead[0] },
        { name: 'd2', port: p.dead[1] },
      ],
      'retries = 1',
    ),
    ...pool('hung', [{ name: 'h', port: p.hung }], 'retries = 0', 'timeouts = { connect = "200ms" }'),
    ...pool(
      'queue',
      [{ name: 'b', port: p.queue, extra: 'max_connections = 1' }],
      'queue_size = 1',
      'timeouts = { queue = "1s" }',
    ),
    ...pool('gone', [{ name: 'b', port: p.scripted }]),
  ].join('\n');
}

test('every termination gives back every reservation: the active counts return to zero', async (t: TestContext) => {
  const scripted = await startScripted('scripted');
  const idle = await startScripted('idle');
  const queue = await startScripted('queue');
  const hung = await startHungListener();
  assert.ok(hung, 'a never-accepting listener for connect timeouts');
  const listeners: Record<string, number> = {};
  for (const name of [...LISTENERS, 'fresh']) listeners[name] = await freePort();
  const ports: Ports = {
    scripted: scripted.port,
    idle: idle.port,
    dead: [await deadPort(), await deadPort()],
    hung: hung.port,
    queue: queue.port,
    listeners,
  };
  const td: TestDaemon = await startTestDaemon(config(ports));
  const d = td.daemon;
  const at = (name: string): number => listeners[name]!;
  try {
    await t.test('client closes', async () => {
      const c = new Client(at('main'));
      await c.until('scripted\n');
      assert.deepEqual(held(d), { ...ZERO, listeners: 1, backends: 1, workers: 1 }, 'held while open');
      c.socket.end();
      await c.closed;
      await allReleased(d, 'a client close');
    });

    await t.test('backend closes', async () => {
      const c = new Client(at('main'));
      await c.until('scripted\n');
      c.socket.write('FIN\n');
      await c.closed;
      assert.equal(c.error, null, 'a clean FIN, passed on');
      await allReleased(d, 'a backend close');
    });

    await t.test('client resets', async () => {
      const c = new Client(at('main'));
      await c.until('scripted\n');
      c.socket.resetAndDestroy();
      await c.closed;
      await allReleased(d, 'a client reset');
    });

    await t.test('backend resets', async () => {
      const c = new Client(at('main'));
      await c.until('scripted\n');
      c.socket.write('RST\n');
      await c.closed;
      await allReleased(d, 'a backend reset');
    });

    await t.test('idle timeout', async () => {
      const c = new Client(at('idle'));
      await c.until('idle\n');
      const start = Date.now();
      await c.closed;
      assert.ok(Date.now() - start >= 150, 'closed by the 200 ms idle timeout');
      await allReleased(d, 'an idle timeout');
    });

    await t.test('connect refused, retries exhausted', async () => {
      const c = new Client(at('refused'));
      await c.refused();
      assert.equal(rejected(d, 'refused', 'no_backend'), 1);
      const errors = d.snapshot().backends.filter((b) => b.pool === 'refused');
      assert.equal(
        errors.reduce((n, b) => n + b.connectErrors.refused, 0),
        2,
        'the first try and one retry',
      );
      await allReleased(d, 'refused connects');
    });

    await t.test('connect timeout', async () => {
      const c = new Client(at('hung'));
      await c.refused();
      assert.equal(rejected(d, 'hung', 'no_backend'), 1);
      assert.equal(d.snapshot().backends.find((b) => b.pool === 'hung')!.connectErrors.timeout, 1);
      await allReleased(d, 'a connect timeout');
    });

    await t.test('queued, then timed out', async () => {
      const first = new Client(at('queue'));
      await first.until('queue\n');
      const second = new Client(at('queue'));
      await waitFor(() => held(d).queued === 1, 5000, 'the second connection queued');
      assert.deepEqual(held(d), { ...ZERO, listeners: 2, backends: 1, workers: 2, queued: 1 });
      await second.refused();
      assert.equal(rejected(d, 'queue', 'queue_timeout'), 1);
      first.socket.end();
      await first.closed;
      await allReleased(d, 'a queue timeout');
    });

    await t.test('queued, then served', async () => {
      const first = new Client(at('queue'));
      await first.until('queue\n');
      const second = new Client(at('queue'));
      await waitFor(() => held(d).queued === 1, 5000, 'the second connection queued');
      first.socket.end();
      await second.until('queue\n');
      assert.equal(held(d).queued, 0);
      second.socket.end();
      await Promise.all([first.closed, second.closed]);
      await allReleased(d, 'a queued connection that was served');
    });

    await t.test('ACL deny', async () => {
      await new Client(at('acl')).refused();
      assert.equal(rejected(d, 'acl', 'acl'), 1);
      await allReleased(d, 'an ACL refusal');
    });

    await t.test('rate limit', async () => {
      const first = new Client(at('rate'));
      await first.until('scripted\n');
      assert.equal(held(d).sources, 1, 'the source counts its open connection');
      await new Client(at('rate')).refused();
      assert.equal(rejected(d, 'rate', 'rate_limit'), 1);
      first.socket.end();
      await first.closed;
      await allReleased(d, 'a rate-limited refusal');
    });

    await t.test('per-source max_connections', async () => {
      const first = new Client(at('persource'));
      await first.until('scripted\n');
      await new Client(at('persource')).refused();
      assert.equal(rejected(d, 'persource', 'max_connections'), 1);
      first.socket.end();
      await first.closed;
      await allReleased(d, 'a per-source refusal');
    });

    await t.test('listener max_connections', async () => {
      const first = new Client(at('full'));
      await first.until('scripted\n');
      await new Client(at('full')).refused();
      assert.equal(rejected(d, 'full', 'max_connections'), 1);
      first.socket.end();
      await first.closed;
      await allReleased(d, 'a full listener');
    });

    await t.test('global max_connections, set by a reload under an open connection', async () => {
      const first = new Client(at('main'));
      await first.until('scripted\n');
      td.setConfigText(config(ports, { top: ['max_connections = 1'] }));
      assert.equal((await d.reload()).outcome, 'applied');
      await new Client(at('persource')).refused();
      assert.equal(rejected(d, 'persource', 'max_connections'), 2);
      first.socket.write('still here\n');
      await first.until('still here\n');
      td.setConfigText(config(ports));
      assert.equal((await d.reload()).outcome, 'applied');
      first.socket.end();
      await first.closed;
      await allReleased(d, 'a daemon at max_connections');
    });

    await t.test('bad PROXY header', async () => {
      const c = new Client(at('proxy'));
      c.socket.write('GET / HTTP/1.0\r\n\r\n');
      await c.refused();
      assert.equal(rejected(d, 'proxy', 'proxy_header'), 1);
      const good = new Client(at('proxy'));
      good.socket.write('PROXY TCP4 10.1.2.3 127.0.0.1 5555 80\r\n');
      await good.until('scripted\n');
      good.socket.end();
      await good.closed;
      await allReleased(d, 'a bad PROXY header');
    });

    await t.test('peek deadline: nothing sent, routed to the listener pool', async () => {
      const c = new Client(at('peek'));
      await c.until('scripted\n');
      assert.equal(d.snapshot().listeners.find((l) => l.name === 'peek')!.protocols.unknown, 1);
      c.socket.end();
      await c.closed;
      await allReleased(d, 'a peek deadline');
    });

    await t.test('listener disabled', async () => {
      d.setListenerEnabled('main', false);
      await new Client(at('main')).refused();
      assert.equal(rejected(d, 'main', 'disabled'), 1);
      d.setListenerEnabled('main', true);
      await allReleased(d, 'a disabled listener');
    });

    await t.test('reload removing the listener, pool and backend of an open connection', async () => {
      const c = new Client(at('gone'));
      await c.until('scripted\n');
      const goneSlot = d.topology.listeners.get('gone')!;
      const fresh = ['[[listener]]', 'name = "fresh"', `bind = "127.0.0.1:${at('fresh')}"`, 'pool = "main"'];
      td.setConfigText(config(ports, { drop: ['gone'], add: fresh }));
      const r = await d.reload();
      assert.equal(r.outcome, 'applied', r.errors.join('; '));
      assert.ok(r.keys.includes('listener.gone') && r.keys.includes('pool.gone'), r.keys.join(' '));
      assert.notEqual(d.topology.listeners.get('fresh'), goneSlot, 'a draining listener keeps its slot');
      c.socket.write('after the reload\n');
      await c.until('after the reload\n');
      assert.equal(held(d).listeners, 1);
      c.socket.end();
      await c.closed;
      await allReleased(d, 'a connection whose listener was removed');
      await waitFor(() => d.topology.removedListeners.size === 0, 5000, 'the drained listener slot freed');
      td.setConfigText(config(ports));
      assert.equal((await d.reload()).outcome, 'applied');
    });
  } finally {
    await td.stop();
    await scripted.close();
    await idle.close();
    await queue.close();
    hung.close();
  }
});

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
  try {
    const relaying = new Client(port);
    await relaying.until('b\n');
    const queued = new Client(port);
    const peeking = new Client(peekPort);
    await waitFor(() => held(d).queued === 1 && held(d).sources === 1, 5000, 'one queued, one peeking');
    assert.deepEqual(held(d), { listeners: 3, backends: 1, workers: 3, sources: 1, queued: 1 });
    await d.stop(false);
    await Promise.all([relaying.closed, queued.closed, peeking.closed]);
    // cut, not complete: each client sees a reset
    assert.deepEqual(
      [relaying, queued, peeking].map((c) => c.error?.code),
      ['ECONNRESET', 'ECONNRESET', 'ECONNRESET'],
    );
    assert.deepEqual(held(d), ZERO);
    assert.deepEqual(reclaimed(td), [], 'the workers cut their connections themselves before exiting');
  } finally {
    await backend.close();
  }
});
