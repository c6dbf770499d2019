// Every way a client connection can end, over real sockets: closes and resets
// from either side (in the relay, the peek and the connect), timeouts, failed
// connects, backends that close before their first byte (retried, replayed) or
// send nothing within timeouts.first_byte, the queue, every admission refusal,
// a bad PROXY header, the peek deadline, a listener that reads protocols while
// relaying, a disabled listener, reloads under an open connection (the stops
// are in terminations-stop.test.ts). After each, every
// reservation the connection took is back: the active counts of listeners,
// backends, workers, per-source entries and pool queues are zero again.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { deadPort, freePorts, startHungListener, waitFor } from '../helpers/servers.js';
import {
  ZERO,
  allReleased,
  held,
  listener,
  rejected,
  startFailing,
  startScripted,
  Client,
} from './termination-helpers.js';

interface Ports {
  scripted: number;
  resetting: number;
  crashing: number;
  mute: number;
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
  'sniff',
  'empty',
  'replay',
  'blackhole',
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
    ...l('sniff', 'main', 'inspect_delay = "30s"'),
    ...l('empty', 'empty'),
    ...l('replay', 'replay'),
    ...l('blackhole', 'blackhole'),
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
    ...pool(
      'empty',
      [
        { name: 'r1', port: p.resetting },
        { name: 'r2', port: p.resetting },
      ],
      'retries = 1',
    ),
    ...pool(
      'replay',
      [
        { name: 'crash', port: p.crashing, extra: 'weight = 256' },
        { name: 'b', port: p.scripted },
      ],
      'algorithm = "weighted_round_robin"',
      'retries = 1',
      'retry_on = ["connect_failure", "empty_response"]',
      'passive = { consecutive_failures = 0 }',
    ),
    ...pool('blackhole', [{ name: 'm', port: p.mute }], 'retries = 0', 'timeouts = { first_byte = "200ms" }'),
    ...pool('gone', [{ name: 'b', port: p.scripted }]),
  ].join('\n');
}

test('every termination gives back every reservation: the active counts return to zero', async (t: TestContext) => {
  const scripted = await startScripted('scripted');
  const resetting = await startFailing('accept');
  const crashing = await startFailing('onData');
  const mute = await startFailing('mute');
  const idle = await startScripted('idle');
  const queue = await startScripted('queue');
  const hung = await startHungListener();
  assert.ok(hung, 'a never-accepting listener for connect timeouts');
  const listeners: Record<string, number> = {};
  const names = [...LISTENERS, 'fresh'];
  const free = await freePorts(names.length);
  for (const [i, name] of names.entries()) listeners[name] = free[i]!;
  const ports: Ports = {
    scripted: scripted.port,
    resetting: resetting.port,
    crashing: crashing.port,
    mute: mute.port,
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
      assert.equal(listener(d, 'main').resets['client'], 1);
    });

    await t.test('backend resets: the client gets a reset', async () => {
      const c = new Client(at('main'));
      await c.until('scripted\n');
      c.socket.write('RST\n');
      await c.closed;
      assert.equal(c.error?.code, 'ECONNRESET');
      await allReleased(d, 'a backend reset');
      assert.equal(listener(d, 'main').resets['backend'], 1);
    });

    await t.test('client resets during the peek', async () => {
      const c = new Client(at('peek'));
      await waitFor(() => held(d).listeners === 1, 5000, 'the peeking connection held');
      c.socket.resetAndDestroy();
      await c.closed;
      await allReleased(d, 'a reset during the peek');
      assert.equal(listener(d, 'peek').resets['client'], 1);
    });

    await t.test('client resets while connecting', async () => {
      const c = new Client(at('hung'));
      await waitFor(() => held(d).backends === 1, 5000, 'the connect under way');
      c.socket.resetAndDestroy();
      await c.closed;
      await allReleased(d, 'a reset while connecting');
      assert.equal(listener(d, 'hung').resets['client'], 1);
    });

    await t.test('backends that reset before any byte: retried, then the failure is passed on', async () => {
      const c = new Client(at('empty'));
      await c.refused();
      const empty = d.snapshot().backends.filter((b) => b.pool === 'empty');
      // a reset that beats the connect's completion is a failed connect; after it, an empty response
      assert.equal(
        empty.reduce((n, b) => n + b.responseErrors.empty + b.connectErrors.other, 0),
        2,
        'the first try and one retry',
      );
      assert.equal(
        empty.reduce((n, b) => n + b.retries, 0),
        1,
      );
      await allReleased(d, 'empty responses');
    });

    await t.test('a backend that resets on the request: replayed to another', async () => {
      const c = new Client(at('replay'));
      c.socket.write('hello\n');
      await c.until('scripted\nhello\n');
      c.socket.end();
      await c.closed;
      await allReleased(d, 'a replayed request');
    });

    await t.test('no first byte within timeouts.first_byte: both sides reset', async () => {
      const c = new Client(at('blackhole'));
      c.socket.write('anyone?\n');
      await c.closed;
      assert.equal(c.error?.code, 'ECONNRESET');
      assert.equal(d.snapshot().backends.find((b) => b.pool === 'blackhole')!.responseErrors.timeout, 1);
      await allReleased(d, 'a first-byte timeout');
    });

    await t.test('protocol read while relaying: counted once, at the greeting', async () => {
      const c = new Client(at('sniff'));
      await c.until('scripted\n');
      c.socket.end();
      await c.closed;
      await allReleased(d, 'a connection whose protocol was read while relaying');
      assert.equal(listener(d, 'sniff').protocols['other'], 1);
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
      assert.equal(rejected(d, 'refused', 'connect_failed'), 1);
      assert.equal(rejected(d, 'refused', 'no_backend'), 0);
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
      assert.equal(rejected(d, 'hung', 'connect_failed'), 1);
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
    resetting.close();
    crashing.close();
    mute.close();
    await idle.close();
    await queue.close();
    hung.close();
  }
});
