// Admission over real sockets: allow/deny lists (IPv4, IPv6, IPv4-mapped),
// per-source rate and concurrency limits with `show clients`, and the global
// connection limit. A refused client sees its connection closed before any
// byte from a backend, and the refusal is counted by reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startNamedEcho, freePort, waitFor } from '../helpers/servers.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { edgeConfig, firstLine, openHeld } from './helpers.js';

function rejected(d: Awaited<ReturnType<typeof startTestDaemon>>, reason: string): number {
  return d.daemon.snapshot().listeners.find((l) => l.name === 'edge')!.rejected[reason] ?? 0;
}

async function ipv6Loopback(): Promise<boolean> {
  const s = net.createServer();
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.listen({ host: '::1', port: 0 }, () => s.close(() => resolve(true)));
  });
}

test('deny and allow lists refuse clients before any backend is contacted; reload changes them', async () => {
  const b = await startNamedEcho('b1');
  const port = await freePort();
  const cfg = (acl: string[]): string =>
    edgeConfig({
      port,
      pool: 'web',
      listener: acl,
      pools: [{ name: 'web', backends: [{ name: 'b1', port: b.port }] }],
    });
  const d = await startTestDaemon(cfg(['deny = ["127.0.0.1"]']));
  try {
    assert.equal(await firstLine(port), null);
    assert.equal(rejected(d, 'acl'), 1);
    assert.equal(b.accepted, 0);

    d.setConfigText(cfg(['allow = ["10.0.0.0/8", "2001:db8::/32"]']));
    assert.equal((await d.daemon.reload()).ok, true);
    assert.equal(await firstLine(port), null, 'not in the allow list');
    assert.equal(rejected(d, 'acl'), 2);

    d.setConfigText(cfg(['allow = ["127.0.0.0/8"]', 'deny = ["10.0.0.0/8"]']));
    assert.equal((await d.daemon.reload()).ok, true);
    assert.equal(await firstLine(port), 'b1');
    assert.equal(b.accepted, 1);
    // refused sources show in `show clients`
    await waitFor(
      () => d.daemon.clients(10).some((c) => c.address === '127.0.0.1' && c.rejected === 2),
      3000,
      'clients table',
    );
  } finally {
    await d.stop();
    await b.close();
  }
});

test('a dual-stack listener matches IPv4 clients (as ::ffff:a.b.c.d) against IPv4 rules, and IPv6 clients against IPv6 rules', async (t) => {
  if (!(await ipv6Loopback())) {
    t.skip('no IPv6 loopback (::1) on this host');
    return;
  }
  const b = await startNamedEcho('b1');
  const port = await freePort();
  const d = await startTestDaemon(
    edgeConfig({
      port,
      bindHost: '::',
      pool: 'web',
      listener: ['deny = ["127.0.0.0/8"]'],
      pools: [{ name: 'web', backends: [{ name: 'b1', port: b.port }] }],
    }),
  );
  try {
    assert.equal(await firstLine(port, undefined, '127.0.0.1'), null, 'IPv4 client denied by an IPv4 rule');
    assert.equal(await firstLine(port, undefined, '::1'), 'b1', 'IPv6 loopback is not in 127.0.0.0/8');
    d.setConfigText(
      edgeConfig({
        port,
        bindHost: '::',
        pool: 'web',
        listener: ['deny = ["::1"]'],
        pools: [{ name: 'web', backends: [{ name: 'b1', port: b.port }] }],
      }),
    );
    assert.equal((await d.daemon.reload()).ok, true);
    assert.equal(await firstLine(port, undefined, '::1'), null);
    assert.equal(await firstLine(port, undefined, '127.0.0.1'), 'b1');
    assert.equal(rejected(d, 'acl'), 2);
  } finally {
    await d.stop();
    await b.close();
  }
});

test('per-source rate limit: a burst is served, the rest refused as rate_limit and shown in show clients', async () => {
  const b = await startNamedEcho('b1');
  const port = await freePort();
  const d = await startTestDaemon(
    edgeConfig({
      port,
      pool: 'web',
      listener: ['source_limits = { rate = 2, burst = 3 }'],
      pools: [{ name: 'web', backends: [{ name: 'b1', port: b.port }] }],
    }),
  );
  try {
    const results: (string | null)[] = [];
    for (let i = 0; i < 8; i++) results.push(await firstLine(port));
    const served = results.filter((r) => r === 'b1').length;
    // 3 from the burst, and at most one more refilled while the 8 ran
    assert.ok(served >= 3 && served <= 4, `served ${served}: ${JSON.stringify(results)}`);
    assert.deepEqual(results.slice(0, 3), ['b1', 'b1', 'b1']);
    assert.equal(rejected(d, 'rate_limit'), 8 - served);
    await waitFor(
      () =>
        d.daemon
          .clients(5)
          .some((c) => c.address === '127.0.0.1' && c.rejected === 8 - served && c.connections === served),
      3000,
      `show clients to list 127.0.0.1 with ${8 - served} rejected`,
    );
  } finally {
    await d.stop();
    await b.close();
  }
});

test('per-source max_connections: the third concurrent connection is refused until one closes', async () => {
  const b = await startNamedEcho('b1');
  const port = await freePort();
  const d = await startTestDaemon(
    edgeConfig({
      port,
      pool: 'web',
      listener: ['source_limits = { max_connections = 2 }'],
      pools: [{ name: 'web', backends: [{ name: 'b1', port: b.port }] }],
    }),
  );
  const held: net.Socket[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const h = await openHeld(port);
      assert.equal(h.line, 'b1');
      held.push(h.socket);
    }
    assert.equal(await firstLine(port), null);
    assert.equal(rejected(d, 'max_connections'), 1);
    await waitFor(() => d.daemon.clients(1)[0]?.active === 2, 3000, 'two active connections in show clients');
    held.pop()!.destroy();
    await waitFor(async () => (await firstLine(port)) === 'b1', 3000, 'a free slot after a close');
  } finally {
    for (const s of held) s.destroy();
    await d.stop();
    await b.close();
  }
});

test('global max_connections: a full daemon accepts and closes at once, counted, without touching a backend', async () => {
  const b = await startNamedEcho('b1');
  const port = await freePort();
  const d = await startTestDaemon(
    edgeConfig({
      port,
      pool: 'web',
      top: ['max_connections = 2'],
      workers: 2,
      pools: [{ name: 'web', backends: [{ name: 'b1', port: b.port }] }],
    }),
  );
  const held: net.Socket[] = [];
  try {
    for (let i = 0; i < 2; i++) held.push((await openHeld(port)).socket);
    const refused = await Promise.all([firstLine(port), firstLine(port), firstLine(port)]);
    assert.deepEqual(refused, [null, null, null]);
    assert.equal(rejected(d, 'max_connections'), 3);
    assert.equal(b.accepted, 2);
    held.pop()!.destroy();
    await waitFor(async () => (await firstLine(port)) === 'b1', 3000, 'a free slot after a close');
  } finally {
    for (const s of held) s.destroy();
    await d.stop();
    await b.close();
  }
});
