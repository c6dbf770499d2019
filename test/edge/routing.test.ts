// Peek-based routing over real sockets: TLS clients routed by SNI to TLS
// backends (netmon never terminates TLS: the handshake succeeds end to end only
// if every byte arrives unchanged), and protocol sniffing with its counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { startNamedEcho, freePort } from '../helpers/servers.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { edgeConfig, firstLine, selfSigned } from './helpers.js';

interface TlsBackend {
  port: number;
  cert: Buffer;
  close(): Promise<void>;
}

/** A TLS server that greets with its name once the handshake is done, then echoes. */
async function startTlsBackend(name: string, cn: string): Promise<TlsBackend | null> {
  const pair = selfSigned(cn);
  if (!pair) return null;
  const open = new Set<net.Socket>();
  const server = tls.createServer({ key: pair.key, cert: pair.cert }, (s) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => {});
    s.write(`${name}\n`);
    s.on('data', (d) => s.write(d));
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    cert: pair.cert,
    close: () =>
      new Promise((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
}

/** TLS through netmon: resolves with the greeting, after verifying the certificate against `ca`. */
function tlsGreeting(port: number, servername: string, ca: Buffer | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = tls.connect({ host: '127.0.0.1', port, servername, ...(ca ? { ca } : { rejectUnauthorized: false }) });
    c.setEncoding('utf8');
    let buf = '';
    c.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) {
        c.destroy();
        resolve(buf.slice(0, buf.indexOf('\n')));
      }
    });
    c.on('error', reject);
  });
}

test('TLS ClientHello SNI routes exact and wildcard names to their TLS backends; others go to the listener pool', async (t) => {
  const a = await startTlsBackend('api', 'api.example.test');
  const w = await startTlsBackend('wild', '*.apps.example.test');
  const def = await startTlsBackend('default', 'default.example.test');
  if (!a || !w || !def) {
    t.skip('openssl is not available to make a test certificate');
    return;
  }
  const port = await freePort();
  const d = await startTestDaemon(
    edgeConfig({
      port,
      pool: 'default',
      listener: ['inspect_delay = "2s"'],
      routes: [
        { sni: 'api.example.test', pool: 'api' },
        { sni: '*.apps.example.test', pool: 'wild' },
      ],
      pools: [
        { name: 'api', backends: [{ name: 'a', port: a.port }] },
        { name: 'wild', backends: [{ name: 'w', port: w.port }] },
        { name: 'default', backends: [{ name: 'd', port: def.port }] },
      ],
    }),
  );
  try {
    assert.equal(await tlsGreeting(port, 'api.example.test', a.cert), 'api');
    assert.equal(await tlsGreeting(port, 'shop.apps.example.test', w.cert), 'wild');
    assert.equal(await tlsGreeting(port, 'Blog.Apps.Example.Test', w.cert), 'wild', 'names compare case-insensitively');
    assert.equal(await tlsGreeting(port, 'a.b.apps.example.test', null), 'default', 'a wildcard covers one label');
    assert.equal(await tlsGreeting(port, 'default.example.test', def.cert), 'default');
    const l = d.daemon.snapshot().listeners[0]!;
    assert.equal(l.protocols['tls'], 5);
  } finally {
    await d.stop();
    await Promise.all([a.close(), w.close(), def.close()]);
  }
});

test('protocol sniffing routes ssh and http1 and counts every protocol; silence falls back after the inspect delay', async () => {
  const [ssh, http, other] = [await startNamedEcho('ssh'), await startNamedEcho('http'), await startNamedEcho('other')];
  const port = await freePort();
  const d = await startTestDaemon(
    edgeConfig({
      port,
      pool: 'other',
      listener: ['inspect_delay = "300ms"', 'inspect_bytes = 64'],
      routes: [
        { protocol: 'ssh', pool: 'ssh' },
        { protocol: 'http1', pool: 'http' },
        { protocol: 'http2', pool: 'http' },
      ],
      pools: [
        { name: 'ssh', backends: [{ name: 's', port: ssh.port }] },
        { name: 'http', backends: [{ name: 'h', port: http.port }] },
        { name: 'other', backends: [{ name: 'o', port: other.port }] },
      ],
    }),
  );
  try {
    assert.equal(await firstLine(port, 'SSH-2.0-OpenSSH_9.2\r\n'), 'ssh');
    assert.equal(await firstLine(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'http');
    assert.equal(await firstLine(port, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), 'http');
    assert.equal(await firstLine(port, Buffer.from([0, 1, 2, 3])), 'other');
    const t0 = Date.now();
    assert.equal(await firstLine(port), 'other', 'a client that waits for the server still gets one');
    assert.ok(Date.now() - t0 >= 250, 'after the inspect delay');
    // a request sent with FIN during the peek is relayed whole, and the reply comes back
    const echoed = await new Promise<string>((resolve, reject) => {
      const c = net.connect({ host: '127.0.0.1', port }, () => c.end('GET /x HTTP/1.0\r\n\r\n'));
      let buf = '';
      c.setEncoding('utf8');
      c.on('data', (s: string) => (buf += s));
      c.on('end', () => resolve(buf));
      c.on('error', reject);
    });
    assert.equal(echoed, 'http\nGET /x HTTP/1.0\r\n\r\n');
    // more than inspect_bytes of something unknown: decided at the limit, relayed unchanged
    const big = Buffer.alloc(200, 0x41);
    const got = await new Promise<Buffer>((resolve, reject) => {
      const c = net.connect({ host: '127.0.0.1', port }, () => c.end(big));
      const parts: Buffer[] = [];
      c.on('data', (b: Buffer) => parts.push(b));
      c.on('end', () => resolve(Buffer.concat(parts)));
      c.on('error', reject);
    });
    assert.deepEqual(got, Buffer.concat([Buffer.from('other\n'), big]));
    const p = d.daemon.snapshot().listeners[0]!.protocols;
    assert.deepEqual(
      { ssh: p['ssh'], http1: p['http1'], http2: p['http2'], other: p['other'], unknown: p['unknown'] },
      {
        ssh: 1,
        http1: 2,
        http2: 1,
        other: 2,
        unknown: 1,
      },
    );
  } finally {
    await d.stop();
    await Promise.all([ssh.close(), http.close(), other.close()]);
  }
});
