// PROXY protocol over real sockets: accepted only from trusted proxies, strict
// and bounded; the client it names is what ACLs, limits, logs and send_proxy
// see; send_proxy v1/v2 to a backend that parses it, and to and from HAProxy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startNamedEcho, freePort, waitFor } from '../helpers/servers.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { buildProxyV1, buildProxyV2 } from '../../daemon/data/edge/proxy-protocol.js';
import { PROXY_HEADER_TIMEOUT_MS } from '../../daemon/data/edge/preamble.js';
import type { ClientStats } from '../../daemon/control/socket/context.js';
import { edgeConfig, firstLine, haproxyPath, startHaproxy, startProxyBackend } from './helpers.js';

type TestDaemon = Awaited<ReturnType<typeof startTestDaemon>>;

function rejected(d: TestDaemon, reason: string): number {
  return d.daemon.snapshot().listeners.find((l) => l.name === 'edge')!.rejected[reason] ?? 0;
}

const dst = { address: '127.0.0.1', port: 443 };

test('PROXY in: the header names the client for send_proxy, ACLs and show clients; bad headers are refused', async () => {
  const backend = await startProxyBackend();
  const port = await freePort();
  const d = await startTestDaemon(
    edgeConfig({
      port,
      pool: 'web',
      listener: ['proxy_protocol = "any"', 'trusted_proxies = ["127.0.0.0/8"]', 'deny = ["203.0.113.0/24"]'],
      pools: [{ name: 'web', extra: ['send_proxy = "v2"'], backends: [{ name: 'p', port: backend.port }] }],
    }),
  );
  try {
    // v1 in, payload in the same segment as the header; v2 out to the backend
    const v1 = buildProxyV1({ address: '198.51.100.7', port: 5555 }, dst);
    assert.equal(await firstLine(port, Buffer.concat([v1, Buffer.from('hello')])), 'src 198.51.100.7 5555');
    // v2 in, IPv6 client
    const v2 = buildProxyV2({ address: '2001:db8::42', port: 6000 }, { address: '2001:db8::1', port: 443 });
    assert.equal(await firstLine(port, v2), 'src 2001:db8::42 6000');
    assert.equal(backend.headers.length, 2);
    assert.equal(backend.headers[0]!.version, 2);

    // the ACL applies to the client the header names
    assert.equal(await firstLine(port, buildProxyV2({ address: '203.0.113.9', port: 1 }, dst)), null);
    assert.equal(rejected(d, 'acl'), 1);

    // malformed, missing (plain bytes instead) and truncated-then-FIN headers
    assert.equal(await firstLine(port, 'PROXY TCP4 198.51.100.7 nonsense\r\n'), null);
    assert.equal(await firstLine(port, 'GET / HTTP/1.1\r\n\r\n'), null);
    const half = await new Promise<boolean>((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port }, () => c.end(v1.subarray(0, 10)));
      c.on('data', () => resolve(false));
      c.on('error', () => {});
      c.on('close', () => resolve(true));
    });
    assert.equal(half, true);
    assert.equal(rejected(d, 'proxy_header'), 3);
    assert.equal(backend.headers.length, 2, 'no refused connection reached the backend');

    // the per-source table (ACL listeners record refusals) keys on the header's client, never on the proxy
    await waitFor(
      () => d.daemon.clients(10).some((c) => c.address === '203.0.113.9' && c.rejected === 1),
      3000,
      'the denied client in show clients',
    );
    assert.ok(!d.daemon.clients(10).some((c) => c.address === '127.0.0.1'));
  } finally {
    await d.stop();
    await backend.close();
  }
});

test('PROXY in: a silent client is closed after the bounded wait; an untrusted one at once', async () => {
  const b = await startNamedEcho('b1');
  const port = await freePort();
  const cfg = (trusted: string): string =>
    edgeConfig({
      port,
      pool: 'web',
      listener: ['proxy_protocol = "v1"', `trusted_proxies = ["${trusted}"]`],
      pools: [{ name: 'web', backends: [{ name: 'b1', port: b.port }] }],
    });
  const d = await startTestDaemon(cfg('127.0.0.1'));
  try {
    const t0 = Date.now();
    assert.equal(await firstLine(port, undefined, '127.0.0.1', PROXY_HEADER_TIMEOUT_MS + 3000), null);
    const waited = Date.now() - t0;
    assert.ok(waited >= PROXY_HEADER_TIMEOUT_MS - 100, `closed after ${waited} ms`);
    // v2 on a v1-only listener
    assert.equal(await firstLine(port, buildProxyV2({ address: '192.0.2.1', port: 1 }, dst)), null);
    assert.equal(rejected(d, 'proxy_header'), 2);

    d.setConfigText(cfg('10.0.0.0/8'));
    assert.equal((await d.daemon.reload()).ok, true);
    const t1 = Date.now();
    assert.equal(await firstLine(port, buildProxyV1({ address: '192.0.2.1', port: 1 }, dst)), null);
    assert.ok(Date.now() - t1 < 1000, 'an untrusted source is refused without waiting');
    assert.equal(rejected(d, 'proxy_header'), 3);
    assert.equal(b.accepted, 0);
  } finally {
    await d.stop();
    await b.close();
  }
});

test('send_proxy v1 and v2: the backend learns the real client address and port', async () => {
  const backend = await startProxyBackend();
  const port = await freePort();
  const cfg = (v: string): string =>
    edgeConfig({
      port,
      pool: 'web',
      pools: [{ name: 'web', extra: [`send_proxy = "${v}"`], backends: [{ name: 'p', port: backend.port }] }],
    });
  const d = await startTestDaemon(cfg('v1'));
  try {
    for (const version of [1, 2]) {
      if (version === 2) {
        d.setConfigText(cfg('v2'));
        assert.equal((await d.daemon.reload()).ok, true);
      }
      const line = await new Promise<{ line: string; localPort: number }>((resolve, reject) => {
        const c = net.connect({ host: '127.0.0.1', port });
        let localPort = 0;
        c.on('connect', () => (localPort = c.localPort!));
        c.setEncoding('utf8');
        c.on('data', (s: string) => {
          c.destroy();
          resolve({ line: s.split('\n')[0]!, localPort });
        });
        c.on('error', reject);
      });
      assert.equal(line.line, `src 127.0.0.1 ${line.localPort}`);
      const h = backend.headers.at(-1)!;
      assert.equal(h.version, version);
      assert.equal(h.destination?.port, port);
    }
  } finally {
    await d.stop();
    await backend.close();
  }
});

test('HAProxy send-proxy-v2 in front of netmon, and netmon send_proxy to HAProxy accept-proxy', async (t) => {
  const bin = haproxyPath();
  if (!bin) {
    t.skip('haproxy is not installed and apt-get could not install it');
    return;
  }
  const backend = await startProxyBackend();
  const [front, back, nm, nm2] = [await freePort(), await freePort(), await freePort(), await freePort()];
  // front: HAProxy -> netmon (PROXY v2). back: netmon -> HAProxy (accept-proxy), which answers with the client it saw.
  const hap = await startHaproxy(
    bin,
    [
      'global',
      '  maxconn 100',
      'defaults',
      '  timeout connect 2s',
      '  timeout client 10s',
      '  timeout server 10s',
      'frontend front',
      '  mode tcp',
      `  bind 127.0.0.1:${front}`,
      '  default_backend to_netmon',
      'backend to_netmon',
      '  mode tcp',
      `  server nm 127.0.0.1:${nm} send-proxy-v2`,
      'frontend back',
      '  mode http',
      `  bind 127.0.0.1:${back} accept-proxy`,
      '  http-request return status 200 content-type text/plain lf-string "client=%ci:%cp\\n"',
      '',
    ].join('\n'),
    front,
  );
  const cfgFront = edgeConfig({
    port: nm,
    pool: 'app',
    listener: ['proxy_protocol = "v2"', 'trusted_proxies = ["127.0.0.1"]'],
    pools: [{ name: 'app', extra: ['send_proxy = "v1"'], backends: [{ name: 'p', port: backend.port }] }],
  });
  const d1 = await startTestDaemon(cfgFront);
  const d2 = await startTestDaemon(
    edgeConfig({
      port: nm2,
      pool: 'hap',
      listener: ['proxy_protocol = "v1"', 'trusted_proxies = ["127.0.0.1"]'],
      pools: [{ name: 'hap', extra: ['send_proxy = "v2"'], backends: [{ name: 'h', port: back }] }],
    }),
  );
  try {
    // client -> HAProxy -> (PROXY v2) netmon -> (PROXY v1) backend: the client's own port survives both hops
    const got = await new Promise<{ line: string; localPort: number }>((resolve, reject) => {
      const c = net.connect({ host: '127.0.0.1', port: front });
      let localPort = 0;
      c.on('connect', () => (localPort = c.localPort!));
      c.setEncoding('utf8');
      c.on('data', (s: string) => {
        c.destroy();
        resolve({ line: s.split('\n')[0]!, localPort });
      });
      c.on('error', reject);
    });
    assert.equal(got.line, `src 127.0.0.1 ${got.localPort}`);
    assert.equal(backend.headers.at(-1)!.version, 1);
    assert.equal(d1.daemon.snapshot().listeners[0]!.rejected['proxy_header'], 0);

    // a client named by a PROXY header -> netmon -> (PROXY v2) HAProxy, which reports that client
    const reply = await new Promise<string>((resolve, reject) => {
      const c = net.connect({ host: '127.0.0.1', port: nm2 });
      let buf = '';
      c.setEncoding('utf8');
      c.write(buildProxyV1({ address: '192.0.2.55', port: 6000 }, { address: '127.0.0.1', port: nm2 }));
      c.write('GET / HTTP/1.0\r\nHost: x\r\n\r\n');
      c.on('data', (s: string) => (buf += s));
      c.on('end', () => resolve(buf));
      c.on('error', reject);
    });
    assert.match(reply, /^HTTP\/1\.[01] 200/);
    assert.match(reply, /client=192\.0\.2\.55:6000/);
  } finally {
    await d1.stop();
    await d2.stop();
    await hap.stop();
    await backend.close();
  }
});

test('PROXY in: ip_hash balances on the client named in the header, not on the proxy', async () => {
  const [b1, b2] = [await startNamedEcho('b1'), await startNamedEcho('b2')];
  const port = await freePort();
  const d = await startTestDaemon(
    edgeConfig({
      port,
      pool: 'web',
      listener: ['proxy_protocol = "v2"', 'trusted_proxies = ["127.0.0.1"]'],
      pools: [
        {
          name: 'web',
          extra: ['algorithm = "ip_hash"'],
          backends: [
            { name: 'b1', port: b1.port },
            { name: 'b2', port: b2.port },
          ],
        },
      ],
    }),
  );
  try {
    const seen = new Map<string, string>();
    for (let i = 1; i <= 16; i++) {
      const client = `10.9.${i}.${i * 7}`;
      const first = await firstLine(port, buildProxyV2({ address: client, port: 1000 + i }, dst));
      const again = await firstLine(port, buildProxyV2({ address: client, port: 2000 + i }, dst));
      assert.ok(first !== null && first === again, `${client}: ${first} then ${again}`);
      seen.set(client, first);
    }
    // all 32 connections came from 127.0.0.1: two backends in use means the header's address was hashed
    assert.deepEqual(new Set(seen.values()), new Set(['b1', 'b2']));
  } finally {
    await d.stop();
    await b1.close();
    await b2.close();
  }
});

test('a flood of distinct sources keeps the per-source table at table_size; limits still hold', async () => {
  const b = await startNamedEcho('b1');
  const port = await freePort();
  const d = await startTestDaemon(
    edgeConfig({
      port,
      pool: 'web',
      listener: [
        'proxy_protocol = "v1"',
        'trusted_proxies = ["127.0.0.1"]',
        'source_limits = { rate = 1, burst = 1, table_size = 16 }',
      ],
      pools: [{ name: 'web', backends: [{ name: 'b1', port: b.port }] }],
    }),
  );
  try {
    const header = (i: number): Buffer => buildProxyV1({ address: `10.${i >> 8}.${i & 255}.1`, port: 1000 }, dst);
    for (let i = 0; i < 300; i += 20) {
      const batch = [];
      for (let j = i; j < i + 20; j++) batch.push(firstLine(port, header(j)));
      assert.deepEqual(new Set(await Promise.all(batch)), new Set(['b1']), 'every new source gets its burst');
    }
    // after the flood a new source is tracked again: its second connection within a second is refused
    await waitFor(() => b.open.size === 0, 3000, 'the flood to close');
    assert.equal(await firstLine(port, header(4000)), 'b1');
    assert.equal(await firstLine(port, header(4000)), null);
    assert.equal(rejected(d, 'rate_limit'), 1);
    // the flood took free entries beyond table_size; the main thread trims the least recently seen
    const shown = (): ClientStats[] => d.daemon.clients(1000);
    await waitFor(() => shown().length <= 16, 3000, `at most table_size sources (${shown().length})`);
    assert.ok(
      shown().some((c) => c.address === '10.15.160.1' && c.rejected === 1),
      'the most recent source is kept, with its rejection',
    );
  } finally {
    await d.stop();
    await b.close();
  }
});
