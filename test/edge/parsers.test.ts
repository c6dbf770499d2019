// The edge parsers against real and hostile input: a real TLS ClientHello and
// PROXY headers round-tripped, then fast-check with random and truncated bytes
// (the parsers must answer, never throw, and stay within their bounds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import fc from 'fast-check';
import { parseClientHello } from '../../daemon/data/edge/client-hello.js';
import { sniffProtocol, sniffFinal } from '../../daemon/data/edge/sniff.js';
import {
  buildProxyV1,
  buildProxyV2,
  buildProxyV2Local,
  parseProxyHeader,
} from '../../daemon/data/edge/proxy-protocol.js';
import { Router } from '../../daemon/data/edge/router.js';

/** The bytes a real Node TLS client sends first, captured by a plain TCP server. */
async function captureClientHello(servername: string | undefined): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const got = new Promise<Buffer>((resolve) => {
      server.once('connection', (s) => {
        let buf = Buffer.alloc(0);
        s.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          const r = parseClientHello(buf);
          if (r.status !== 'incomplete') {
            s.destroy();
            resolve(buf);
          }
        });
      });
    });
    const c = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
    c.on('error', () => {});
    const buf = await got;
    c.destroy();
    return buf;
  } finally {
    server.close();
  }
}

test('a real ClientHello gives its server name; every truncation of it is incomplete', async () => {
  const hello = await captureClientHello('API.Example.com');
  assert.deepEqual(parseClientHello(hello), { status: 'ok', sni: 'api.example.com' });
  assert.equal(sniffProtocol(hello), 'tls');
  for (let n = 0; n < hello.length; n++) {
    assert.equal(parseClientHello(hello.subarray(0, n)).status, 'incomplete', `prefix of ${n} bytes`);
  }
  // the same hello split over two TLS records (a record boundary inside the handshake)
  const body = hello.subarray(5);
  const cut = 40;
  const rec = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, b.length >> 8, b.length & 255]), b]);
  const split = Buffer.concat([rec(body.subarray(0, cut)), rec(body.subarray(cut))]);
  assert.deepEqual(parseClientHello(split), { status: 'ok', sni: 'api.example.com' });
});

test('a ClientHello without a server name parses with sni null', async () => {
  const hello = await captureClientHello(undefined);
  assert.deepEqual(parseClientHello(hello), { status: 'ok', sni: null });
});

test('protocol sniffing: tls, http1, http2 preface, ssh, other; prefixes wait', () => {
  const b = (s: string): Buffer => Buffer.from(s, 'latin1');
  assert.equal(sniffProtocol(b('GET / HTTP/1.1\r\n')), 'http1');
  assert.equal(sniffProtocol(b('OPTIONS * HTTP/1.1\r\n')), 'http1');
  assert.equal(sniffProtocol(b('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')), 'http2');
  assert.equal(sniffProtocol(b('SSH-2.0-OpenSSH_9.2\r\n')), 'ssh');
  assert.equal(sniffProtocol(b('\x00\x00\x00\x10hello')), 'other');
  assert.equal(sniffProtocol(b('*1\r\n$4\r\nPING\r\n')), 'other');
  assert.equal(sniffProtocol(b('GE')), null);
  assert.equal(sniffProtocol(b('PRI * HTTP/2')), null);
  assert.equal(sniffProtocol(b('SS')), null);
  assert.equal(sniffProtocol(Buffer.from([0x16, 0x03])), null);
  assert.equal(sniffFinal(b('GE')), 'other');
  assert.equal(sniffFinal(Buffer.alloc(0)), null);
});

test('routes: first match wins; exact and one-label wildcard names; protocol; none', () => {
  const slots: Record<string, number> = { a: 1, b: 2, c: 3, ssh: 4 };
  const r = new Router(
    [
      { match: 'sni', sni: 'api.example.com', pool: 'a' },
      { match: 'sni', sni: '*.example.com', pool: 'b' },
      { match: 'protocol', protocol: 'ssh', pool: 'ssh' },
      { match: 'protocol', protocol: 'tls', pool: 'c' },
    ],
    (n) => slots[n] ?? -1,
  );
  assert.equal(r.route({ protocol: 'tls', sni: 'api.example.com', miss: null }), 1);
  assert.equal(r.route({ protocol: 'tls', sni: 'www.example.com', miss: null }), 2);
  assert.equal(r.route({ protocol: 'tls', sni: 'a.b.example.com', miss: null }), 3, 'a wildcard covers one label');
  assert.equal(r.route({ protocol: 'tls', sni: 'example.com', miss: null }), 3);
  assert.equal(r.route({ protocol: 'tls', sni: null, miss: null }), 3);
  assert.equal(r.route({ protocol: 'ssh', sni: null, miss: null }), 4);
  assert.equal(r.route({ protocol: 'http1', sni: null, miss: null }), -1, 'no route: the listener pool');
  assert.equal(r.route({ protocol: null, sni: null, miss: null }), -1);
});

test('a route to a pool the plan lacks fails the build instead of being skipped', () => {
  assert.throws(
    () => new Router([{ match: 'sni', sni: 'never.example.org', pool: 'missing' }], () => -1),
    /pool "missing"/,
  );
});

test('PROXY v1 and v2 headers round-trip, IPv4 and IPv6, with payload after them', () => {
  const cases = [
    { src: { address: '192.0.2.7', port: 51000 }, dst: { address: '198.51.100.1', port: 443 }, fam: 'tcp4' },
    { src: { address: '2001:db8::7', port: 1 }, dst: { address: '2001:db8::1', port: 65535 }, fam: 'tcp6' },
  ];
  for (const c of cases) {
    for (const build of [buildProxyV1, buildProxyV2]) {
      const h = build(c.src, c.dst);
      const r = parseProxyHeader(Buffer.concat([h, Buffer.from('payload')]));
      assert.equal(r.status, 'ok');
      if (r.status !== 'ok') continue;
      assert.equal(r.headerLength, h.length);
      assert.equal(r.family, c.fam);
      assert.deepEqual(r.source, c.src);
      assert.deepEqual(r.destination, c.dst);
      for (let n = 0; n < h.length; n++) assert.equal(parseProxyHeader(h.subarray(0, n)).status, 'incomplete');
    }
  }
  const local = parseProxyHeader(buildProxyV2Local());
  assert.equal(local.status === 'ok' && local.command, 'local');
  assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n')).status, 'invalid');
  assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n')).status, 'invalid');
  assert.equal(parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n')).status, 'invalid');
});

test('PROXY v1: a line of 107 bytes with its CRLF is the longest accepted; 108 is invalid at any split', () => {
  // the spec (2.1): "a 108-byte buffer is always enough to store all the line and a trailing zero"
  const line = (n: number): Buffer => Buffer.from('PROXY UNKNOWN ' + 'x'.repeat(n - 16) + '\r\n', 'latin1');
  const ok = parseProxyHeader(line(107));
  assert.equal(ok.status, 'ok');
  assert.equal(ok.status === 'ok' && ok.headerLength, 107);
  const long = line(108);
  assert.equal(parseProxyHeader(long).status, 'invalid');
  // however the bytes arrive: a 106-byte prefix without CR can only end in a 108-byte line
  for (let n = 0; n <= long.length; n++) {
    const r = parseProxyHeader(long.subarray(0, n));
    assert.equal(r.status, n < 106 ? 'incomplete' : 'invalid', `prefix of ${n} bytes`);
  }
  const crAt106 = Buffer.concat([long.subarray(0, 106), Buffer.from('\r', 'latin1')]);
  assert.equal(parseProxyHeader(crAt106).status, 'invalid', 'a CR at offset 106 would make a 108-byte line');
});

const fuzzRuns = { numRuns: 3000 };

test('fuzz: PROXY parser never throws on random bytes and stays within them', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const buf = Buffer.from(bytes);
      const r = parseProxyHeader(buf);
      if (r.status === 'ok') assert.ok(r.headerLength <= buf.length);
    }),
    fuzzRuns,
  );
});

test('fuzz: PROXY parser on mutated and truncated valid headers', () => {
  const ip4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
  const port = fc.nat(65535);
  fc.assert(
    fc.property(
      ip4,
      ip4,
      port,
      port,
      fc.boolean(),
      fc.nat(200),
      fc.array(fc.tuple(fc.nat(200), fc.nat(255)), { maxLength: 4 }),
      (s, d, sp, dp, v2, cut, flips) => {
        const h = (v2 ? buildProxyV2 : buildProxyV1)({ address: s, port: sp }, { address: d, port: dp });
        const ok = parseProxyHeader(h);
        assert.equal(ok.status, 'ok');
        const m = Buffer.from(h.subarray(0, Math.min(cut, h.length)));
        for (const [at, v] of flips) if (m.length > 0) m[at % m.length] = v;
        const r = parseProxyHeader(m);
        if (r.status === 'ok') assert.ok(r.headerLength <= m.length);
      },
    ),
    fuzzRuns,
  );
});

test('fuzz: ClientHello parser never throws on random bytes, TLS-looking or not', () => {
  const tlsish = fc
    .tuple(fc.uint8Array({ maxLength: 400 }), fc.nat(0xffff))
    .map(([body, len]) =>
      Buffer.concat([Buffer.from([0x16, 0x03, 0x01, len >> 8, len & 255, 0x01]), Buffer.from(body)]),
    );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)),
        tlsish,
      ),
      (buf) => {
        const r = parseClientHello(buf);
        assert.ok(['ok', 'invalid', 'incomplete'].includes(r.status));
        sniffProtocol(buf);
      },
    ),
    fuzzRuns,
  );
});

test('fuzz: a real ClientHello, truncated and mutated, never throws', async () => {
  const hello = await captureClientHello('fuzz.example.net');
  fc.assert(
    fc.property(
      fc.nat(hello.length),
      fc.array(fc.tuple(fc.nat(hello.length), fc.nat(255)), { maxLength: 6 }),
      (cut, flips) => {
        const m = Buffer.from(hello.subarray(0, cut));
        for (const [at, v] of flips) if (m.length > 0) m[at % m.length] = v;
        const r = parseClientHello(m);
        if (flips.length === 0 && cut < hello.length) assert.equal(r.status, 'incomplete');
        if (r.status === 'ok' && r.sni !== null) assert.match(r.sni, /^[a-z0-9._-]+$/);
      },
    ),
    fuzzRuns,
  );
});
