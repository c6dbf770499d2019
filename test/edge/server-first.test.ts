// Peeking must not stall protocols where the server speaks first. With
// inspect_delay set and no routes (the peek only feeds the protocol metric),
// netmon connects at once and reads the protocol from the first bytes either
// side sends: a MySQL/MariaDB handshake, an SMTP or FTP 220 line, an SSH banner
// come from the server; a client that speaks first is read as before. With
// routes, the documented wait stays and its expiry is counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { freePort, startNamedEcho } from '../helpers/servers.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { edgeConfig } from './helpers.js';
import { parseConfig } from '../../daemon/config/load.js';
import { DEFAULT_CONFIG_TOML } from '../../daemon/config/default.js';
import { sniffGreeting } from '../../daemon/data/edge/sniff.js';

/** A MariaDB 10.11 initial handshake packet (protocol 10), as the server sends it on accept. */
function mysqlHandshake(): Buffer {
  const payload = Buffer.concat([
    Buffer.from([0x0a]),
    Buffer.from('5.5.5-10.11.6-MariaDB-0+deb12u1\0', 'latin1'),
    Buffer.from([0x2a, 0, 0, 0]), // connection id
    Buffer.from('abcdefgh\0', 'latin1'), // auth data, part 1, and the filler
    Buffer.from([0xfe, 0xf7, 0x2d, 0x02, 0x00, 0xff, 0x81, 0x15]), // capabilities, charset, status, more capabilities, auth length
    Buffer.alloc(10), // reserved
    Buffer.from('ijklmnopqrst\0', 'latin1'), // auth data, part 2
    Buffer.from('mysql_native_password\0', 'latin1'),
  ]);
  const header = Buffer.from([payload.length & 255, (payload.length >> 8) & 255, payload.length >> 16, 0]);
  return Buffer.concat([header, payload]);
}

const GREETINGS: Record<string, Buffer> = {
  mysql: mysqlHandshake(),
  smtp: Buffer.from('220 mail.example.test ESMTP Postfix (Debian/GNU)\r\n', 'latin1'),
  ftp: Buffer.from('220 (vsFTPd 3.0.3)\r\n', 'latin1'),
  ssh: Buffer.from('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n', 'latin1'),
};

/** A server that writes `greeting` on accept, then echoes. */
async function greeter(greeting: Buffer): Promise<{ port: number; close(): void }> {
  const server = net.createServer((c) => {
    c.on('error', () => {});
    c.write(greeting);
    c.on('data', (d) => c.write(d));
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

/** Connect and wait for `n` bytes of greeting; resolves with them and the ms it took (rejects after 5 s). */
function greeted(port: number, n: number): Promise<{ bytes: Buffer; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const c = net.connect({ host: '127.0.0.1', port });
    const parts: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error('no greeting within 5 s'));
    }, 5000);
    c.on('data', (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (got >= n) {
        clearTimeout(timer);
        c.end();
        resolve({ bytes: Buffer.concat(parts), ms: performance.now() - t0 });
      }
    });
    c.on('error', reject);
  });
}

test('greetings are recognised: MySQL handshake, SMTP and FTP 220, SSH banner; prefixes wait', () => {
  for (const [name, g] of Object.entries(GREETINGS)) {
    assert.equal(sniffGreeting(g), name, name);
    assert.equal(sniffGreeting(g.subarray(0, 3)), null, `${name}: a prefix waits`);
  }
  assert.equal(sniffGreeting(Buffer.from('220 gateway ready\r\n')), 'other', 'a 220 line naming neither');
  assert.equal(sniffGreeting(Buffer.from('+OK POP3 ready\r\n')), 'other');
  assert.equal(sniffGreeting(Buffer.from([0x10, 0, 0, 0, 0xff, 0x15, 0x04])), 'other', 'a MySQL error packet');
});

test('a 220 line longer than the greeting bound gets one verdict however its bytes arrive', () => {
  // the name past byte 512: decided as 'other' at 512 bytes, it must not turn 'smtp' when the LF comes
  const long = Buffer.from(`220 ${'x'.repeat(600)} ESMTP\r\n`, 'latin1');
  for (const n of [512, 600, long.length]) assert.equal(sniffGreeting(long.subarray(0, n)), 'other', `${n} bytes`);
  const early = Buffer.from(`220 mail ESMTP ${'x'.repeat(600)}\r\n`, 'latin1');
  for (const n of [512, 600, early.length]) assert.equal(sniffGreeting(early.subarray(0, n)), 'smtp', `${n} bytes`);
});

test('no routes: a server-first protocol is connected at once and counted from its greeting', async () => {
  const servers = Object.fromEntries(
    await Promise.all(Object.entries(GREETINGS).map(async ([k, g]) => [k, await greeter(g)] as const)),
  );
  // it answers with a line of its own, but only once the client has spoken: the client's bytes come first
  const echo = await startNamedEcho('echo', 0, { greetAfterData: true });
  const port = await freePort();
  const pools = [
    ...Object.entries(servers).map(([name, s]) => ({ name, backends: [{ name: 'b', port: s.port }] })),
    { name: 'echo', backends: [{ name: 'b', port: echo.port }] },
  ];
  // one listener per pool, all counting protocols with a long inspect_delay and no route
  const toml = edgeConfig({ port, pool: 'mysql', listener: ['inspect_delay = "30s"'], pools });
  const extra = await Promise.all(pools.slice(1).map(async (p) => ({ name: p.name, port: await freePort() })));
  const d = await startTestDaemon(
    toml +
      extra
        .map((l) =>
          [
            '[[listener]]',
            `name = "${l.name}"`,
            `bind = "127.0.0.1:${l.port}"`,
            `pool = "${l.name}"`,
            'inspect_delay = "30s"',
          ].join('\n'),
        )
        .join('\n') +
      '\n',
  );
  const portOf = (name: string): number => (name === 'mysql' ? port : extra.find((l) => l.name === name)!.port);
  const listener = (name: string) =>
    d.daemon.snapshot().listeners.find((l) => l.name === (name === 'mysql' ? 'edge' : name))!;
  try {
    for (const [name, g] of Object.entries(GREETINGS)) {
      const r = await greeted(portOf(name), g.length);
      assert.deepEqual(r.bytes, g, `${name}: the greeting, unchanged`);
      assert.ok(r.ms < 2000, `${name}: greeted in ${r.ms.toFixed(1)} ms, not after the 30 s inspect delay`);
    }
    // a client that speaks first is still read from its own bytes
    const c = net.connect({ host: '127.0.0.1', port: portOf('echo') });
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((r) => c.once('data', () => r()));
    c.destroy();
    for (const name of Object.keys(GREETINGS)) {
      const want = name;
      await waitUntil(() => listener(name).protocols[want] === 1, `${name} counted`);
    }
    // the echo backend's first line ("echo\n") is not what is counted: the client spoke first
    await waitUntil(() => listener('echo').protocols['http1'] === 1, 'http1 counted');
    assert.equal(listener('echo').protocols['other'], 0);
    for (const name of Object.keys(GREETINGS)) {
      assert.equal(
        Object.values(listener(name).peekMisses).reduce((a, b) => a + b, 0),
        0,
        'nothing waited, nothing missed',
      );
    }
  } finally {
    await d.stop();
    for (const s of Object.values(servers)) s.close();
    await echo.close();
  }
});

test('with routes the peek still waits for the client: a server-first client is served after inspect_delay, counted', async () => {
  const mysql = await greeter(GREETINGS.mysql!);
  const ssh = await startNamedEcho('ssh');
  const port = await freePort();
  const d = await startTestDaemon(
    edgeConfig({
      port,
      pool: 'db',
      listener: ['inspect_delay = "300ms"'],
      routes: [{ protocol: 'ssh', pool: 'ssh' }],
      pools: [
        { name: 'db', backends: [{ name: 'b', port: mysql.port }] },
        { name: 'ssh', backends: [{ name: 'b', port: ssh.port }] },
      ],
    }),
  );
  try {
    const r = await greeted(port, GREETINGS.mysql!.length);
    assert.ok(r.ms >= 290, `the documented wait: ${r.ms.toFixed(1)} ms`);
    const l = d.daemon.snapshot().listeners[0]!;
    assert.equal(l.peekMisses['timeout'], 1, 'the deadline expiry is counted');
    assert.equal(l.protocols['unknown'], 1);
  } finally {
    await d.stop();
    mysql.close();
    await ssh.close();
  }
});

test('the embedded demo config does not make a server-first protocol wait', () => {
  // a listener waits for the client only when routes depend on its first bytes
  const c = parseConfig(DEFAULT_CONFIG_TOML, '<embedded default>');
  for (const l of c.listeners) {
    if (l.edge.inspectDelay > 0) assert.deepEqual(l.edge.routes, [], `${l.name} peeks without routes`);
  }
});

async function waitUntil(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
