// A reset is relayed as a reset, both ways and in every phase, over real
// sockets: a backend that sends 1000 bytes and then aborts (SO_LINGER 0) leaves
// the client with those 1000 bytes and ECONNRESET, not a clean end that would
// make a cut-off answer look complete; a client that aborts reaches the backend
// as ECONNRESET. A client that resets while netmon reads its PROXY header, peeks
// or connects is counted too. The access log and the counters say which side.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startChildDaemon, type ChildDaemon } from '../systemd/child-daemon.js';
import { hangingPort } from '../health/net-helpers.js';
import { freePort, waitFor } from '../helpers/servers.js';
import { parsePromText, sampleValue } from '../metrics/prom-text.js';
import type { ListenerSnapshot, BackendSnapshot } from '../../daemon/control/snapshot/snapshot.js';

/** How a socket's reading side ended: a clean FIN, or the error code. */
interface Ending {
  bytes: number;
  ended: 'end' | string;
}

function watchEnding(s: net.Socket): Promise<Ending> {
  let bytes = 0;
  let ended: string | null = null;
  s.on('data', (d: Buffer) => (bytes += d.length));
  s.on('end', () => (ended ??= 'end'));
  s.on('error', (e: NodeJS.ErrnoException) => (ended ??= e.code ?? e.message));
  return new Promise((resolve) => s.once('close', () => resolve({ bytes, ended: ended ?? 'closed' })));
}

/** A backend that sends 1000 bytes, waits 300 ms, then aborts the connection. */
async function abortingBackend(): Promise<net.Server> {
  const server = net.createServer((c) => {
    c.on('error', () => {});
    c.write(Buffer.alloc(1000, 0x61));
    setTimeout(() => c.resetAndDestroy(), 300);
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  return server;
}

/** A backend that never sends; `endings` gets how each connection ended. */
async function idleBackend(): Promise<{ server: net.Server; endings: Promise<Ending>[] }> {
  const endings: Promise<Ending>[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (c) => endings.push(watchEnding(c)));
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  return { server, endings };
}

/** A backend that, once the client has sent FIN, writes a byte every 20 ms until its socket fails. */
async function talkingBackend(): Promise<{
  server: net.Server;
  halfClosedThenReset: Promise<boolean>;
  ending: Promise<string | null>;
}> {
  let halfClosed = false;
  let done: (code: string | null) => void = () => {};
  const ending = new Promise<string | null>((r) => (done = r));
  const server = net.createServer({ allowHalfOpen: true }, (c) => {
    let timer: NodeJS.Timeout | null = null;
    c.on('end', () => {
      halfClosed = true;
      timer = setInterval(() => c.write('x'), 20);
    });
    c.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? null));
    c.on('close', () => {
      if (timer) clearInterval(timer);
      done(null);
    });
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  return { server, ending, halfClosedThenReset: ending.then(() => halfClosed) };
}

const portOf = (s: net.Server): number => (s.address() as net.AddressInfo).port;

interface Stats {
  listeners: ListenerSnapshot[];
  backends: BackendSnapshot[];
}

test('resets pass through as resets, both ways, in every phase, counted by side', async (t) => {
  const aborting = await abortingBackend();
  const idle = await idleBackend();
  const talker = await talkingBackend();
  const hung = await hangingPort();
  const ports = {
    abort: await freePort(),
    idle: await freePort(),
    talk: await freePort(),
    peek: await freePort(),
    proxy: await freePort(),
    connecting: await freePort(),
  };
  const metricsPort = await freePort();
  const listener = (name: string, pool: string, ...keys: string[]): string[] => [
    '[[listener]]',
    `name = "${name}"`,
    `bind = "127.0.0.1:${ports[name as keyof typeof ports]}"`,
    `pool = "${pool}"`,
    ...keys,
  ];
  const pool = (name: string, port: number, ...keys: string[]): string[] => [
    `[pool.${name}]`,
    'health = { type = "none" }',
    'retries = 0',
    ...keys,
    `[[pool.${name}.backend]]`,
    'name = "b"',
    `address = "127.0.0.1:${port}"`,
  ];
  const d: ChildDaemon = await startChildDaemon((sock) =>
    [
      'workers = 1',
      `[metrics]\nlisten = "127.0.0.1:${metricsPort}"`,
      `[control]\nsocket = ${JSON.stringify(sock)}`,
      '[log]\nlevel = "info"\naccess = true',
      ...listener('abort', 'abort'),
      ...listener('idle', 'idle'),
      ...listener('talk', 'talk'),
      ...listener('peek', 'idle', 'inspect_delay = "30s"', '[[listener.route]]', 'protocol = "tls"', 'pool = "idle"'),
      ...listener('proxy', 'idle', 'proxy_protocol = "v1"', 'trusted_proxies = ["127.0.0.1/32"]'),
      ...listener('connecting', 'hung'),
      ...pool('abort', portOf(aborting)),
      ...pool('idle', portOf(idle.server)),
      ...pool('talk', portOf(talker.server)),
      ...pool('hung', hung.port, 'timeouts = { connect = "30s" }'),
      '',
    ].join('\n'),
  );
  t.after(async () => {
    await d.cleanup();
    aborting.close();
    idle.server.close();
    talker.server.close();
    await hung.close();
  });
  const stats = async (): Promise<Stats> => (await d.ctl('show stats')) as Stats;
  const resets = async (listener: string): Promise<Record<string, number>> =>
    (await stats()).listeners.find((l) => l.name === listener)!.resets;
  const access = (listener: string): Record<string, unknown>[] =>
    d.stdout
      .join('')
      .split('\n')
      .filter((l) => l.includes('"msg":"access"') && l.includes(`"listener":"${listener}"`))
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  await t.test('the backend aborts after 1000 bytes: the client reads them, then ECONNRESET', async () => {
    const c = net.connect({ host: '127.0.0.1', port: ports.abort });
    const got = await watchEnding(c);
    assert.deepEqual(got, { bytes: 1000, ended: 'ECONNRESET' });
    await waitFor(() => access('abort').length === 1, 5000, 'the access line');
    const line = access('abort')[0]!;
    assert.equal(line['termination'], 'backend_reset');
    assert.equal(line['bytes_out'], 1000);
    assert.deepEqual(await resets('abort'), { client: 0, backend: 1 });
    const b = (await stats()).backends.find((x) => x.pool === 'abort')!;
    assert.deepEqual(b.resets, { client: 0, backend: 1 });
  });

  await t.test('the client aborts while the backend is idle: the backend gets ECONNRESET', async () => {
    const c = net.connect({ host: '127.0.0.1', port: ports.idle });
    c.on('error', () => {});
    await waitFor(() => idle.endings.length === 1, 5000, 'the backend connection');
    c.resetAndDestroy();
    assert.deepEqual(await idle.endings[0]!, { bytes: 0, ended: 'ECONNRESET' });
    await waitFor(() => access('idle').length === 1, 5000, 'the access line');
    assert.equal(access('idle')[0]!['termination'], 'client_reset');
    assert.deepEqual(await resets('idle'), { client: 1, backend: 0 });
    const b = (await stats()).backends.find((x) => x.pool === 'idle')!;
    assert.deepEqual(b.resets, { client: 1, backend: 0 });
  });

  await t.test('the client sends FIN, then aborts while the backend answers: the backend gets a reset', async () => {
    // a reset after the client's FIN shows when netmon next writes to the client
    const c = net.connect({ host: '127.0.0.1', port: ports.talk });
    c.on('error', () => {});
    c.end();
    await new Promise<void>((r) => c.once('data', () => r()));
    c.resetAndDestroy();
    assert.equal(await talker.halfClosedThenReset, true);
    assert.match((await talker.ending)!, /^(ECONNRESET|EPIPE)$/);
    await waitFor(async () => (await resets('talk')).client === 1, 5000, 'the reset counted');
  });

  for (const [phase, name, first] of [
    ['peeking', 'peek', null],
    ['reading the PROXY header', 'proxy', 'PROXY TCP4 10.0'],
    ['connecting', 'connecting', null],
  ] as const) {
    await t.test(`the client resets while netmon is ${phase}: counted on the listener`, async () => {
      const before = idle.endings.length;
      const c = net.connect({ host: '127.0.0.1', port: ports[name] });
      c.on('error', () => {});
      await new Promise<void>((r) => c.once('connect', () => r()));
      if (first !== null) c.write(first);
      // netmon has the connection when the listener counts it open
      await waitFor(
        async () => (await stats()).listeners.find((l) => l.name === name)!.active === 1,
        5000,
        'the connection held',
      );
      c.resetAndDestroy();
      await waitFor(async () => (await resets(name)).client === 1, 5000, `the reset while ${phase}`);
      assert.deepEqual(await resets(name), { client: 1, backend: 0 });
      await waitFor(
        async () => (await stats()).listeners.find((l) => l.name === name)!.active === 0,
        5000,
        'the connection given back',
      );
      assert.equal(idle.endings.length, before, 'no backend connection was made for it');
    });
  }
  await waitFor(() => access('connecting').length === 1, 5000, 'the access line of the connecting reset');
  assert.equal(access('connecting')[0]!['termination'], 'client_reset');

  // the metrics say which side reset, per listener and per backend
  const fams = parsePromText(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
  const byListener = (listener: string, side: string): number | undefined =>
    sampleValue(fams, 'netmon_listener_resets_total', { listener, side });
  assert.deepEqual(
    ['abort', 'idle', 'talk', 'peek', 'proxy', 'connecting'].map((l) => [
      byListener(l, 'client'),
      byListener(l, 'backend'),
    ]),
    [
      [0, 1],
      [1, 0],
      [1, 0],
      [1, 0],
      [1, 0],
      [1, 0],
    ],
  );
  const byBackend = (pool: string, side: string): number | undefined =>
    sampleValue(fams, 'netmon_backend_resets_total', { pool, backend: 'b', side });
  assert.deepEqual(
    [byBackend('abort', 'backend'), byBackend('abort', 'client'), byBackend('idle', 'client')],
    [1, 0, 1],
  );
});
