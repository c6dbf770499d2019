// Large ClientHellos route by their server name: hellos of 5, 9 and 15 KB (large
// post-quantum key shares, many extensions) arriving in 1448-byte segments, as
// on a real network, in one TLS record or spread over several. The default
// inspect_bytes holds a full TLS record and its header. Whenever a peek ends
// without a verdict (too large, deadline) it is counted by reason and logged at
// debug with the listener.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { startChildDaemon } from '../systemd/child-daemon.js';
import { freePort, startNamedEcho, waitFor } from '../helpers/servers.js';
import { parseClientHello } from '../../daemon/data/edge/client-hello.js';
import { parsePromText, sampleValue } from '../metrics/prom-text.js';
import type { ListenerSnapshot } from '../../daemon/control/snapshot/snapshot.js';

const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 255]);
const ext = (type: number, data: Buffer): Buffer => Buffer.concat([u16(type), u16(data.length), data]);

/**
 * A TLS 1.3 ClientHello (RFC 8446 4.1.2) naming `sni`, whose handshake message is
 * `size` bytes, padded by a large key share (as X25519MLKEM768 and friends make
 * them), cut into `records` TLS records.
 */
function clientHello(sni: string, size: number, records = 1): Buffer {
  const name = Buffer.from(sni, 'latin1');
  const fixed = [
    u16(0x0303),
    randomBytes(32),
    Buffer.from([32]),
    randomBytes(32),
    u16(6),
    Buffer.from([0x13, 0x01, 0x13, 0x02, 0x13, 0x03]),
    Buffer.from([1, 0]),
  ];
  const serverName = ext(0x0000, Buffer.concat([u16(name.length + 3), Buffer.from([0]), u16(name.length), name]));
  const versions = ext(0x002b, Buffer.from([2, 0x03, 0x04]));
  const head = Buffer.concat(fixed).length + 2 + serverName.length + versions.length + 4 + 2 + 4;
  const keyLen = size - 4 - head;
  const keyShare = ext(0x0033, Buffer.concat([u16(keyLen + 4), u16(0x11ec), u16(keyLen), randomBytes(keyLen)]));
  const exts = Buffer.concat([serverName, versions, keyShare]);
  const body = Buffer.concat([...fixed, u16(exts.length), exts]);
  const msg = Buffer.concat([Buffer.from([1, body.length >> 16, (body.length >> 8) & 255, body.length & 255]), body]);
  assert.equal(msg.length, size);
  const out: Buffer[] = [];
  const per = Math.ceil(msg.length / records);
  for (let at = 0; at < msg.length; at += per) {
    const frag = msg.subarray(at, at + per);
    out.push(Buffer.from([0x16, 0x03, 0x01, frag.length >> 8, frag.length & 255]), frag);
  }
  return Buffer.concat(out);
}

/**
 * Send `bytes` in 1448-byte segments (one TCP segment each: no delay, a pause
 * between writes), stopping after `upTo` bytes; resolve with the greeting line
 * and the bytes echoed after it (the backends greet with their name, then echo).
 */
function sendSegmented(port: number, bytes: Buffer, upTo = bytes.length): Promise<{ name: string; echoed: Buffer }> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.setNoDelay(true);
    const parts: Buffer[] = [];
    let got = 0;
    c.on('data', (d: Buffer) => {
      parts.push(d);
      got += d.length;
      const all = Buffer.concat(parts, got);
      const nl = all.indexOf(0x0a);
      if (nl >= 0 && all.length - nl - 1 >= upTo) {
        c.destroy();
        resolve({ name: all.toString('latin1', 0, nl), echoed: all.subarray(nl + 1) });
      }
    });
    c.on('error', reject);
    c.on('connect', async () => {
      for (let at = 0; at < upTo; at += 1448) {
        c.write(bytes.subarray(at, Math.min(at + 1448, upTo)));
        await new Promise((r) => setTimeout(r, 2));
      }
    });
  });
}

test('5, 9 and 15 KB ClientHellos in 1448-byte segments route by server name; a miss is counted and logged', async (t) => {
  const sni = await startNamedEcho('sni');
  const fallback = await startNamedEcho('default');
  const ports = { big: await freePort(), small: await freePort(), slow: await freePort() };
  const metricsPort = await freePort();
  const listener = (name: string, ...keys: string[]): string[] => [
    '[[listener]]',
    `name = "${name}"`,
    `bind = "127.0.0.1:${ports[name as keyof typeof ports]}"`,
    'pool = "default"',
    ...keys,
    '[[listener.route]]',
    'sni = "big.example.test"',
    'pool = "sni"',
  ];
  const d = await startChildDaemon((sock) =>
    [
      'workers = 1',
      `[metrics]\nlisten = "127.0.0.1:${metricsPort}"`,
      `[control]\nsocket = ${JSON.stringify(sock)}`,
      '[log]\nlevel = "debug"',
      ...listener('big', 'inspect_delay = "5s"'),
      ...listener('small', 'inspect_delay = "5s"', 'inspect_bytes = 4096'),
      ...listener('slow', 'inspect_delay = "300ms"'),
      '[pool.sni]\nhealth = { type = "none" }',
      `[[pool.sni.backend]]\nname = "b"\naddress = "127.0.0.1:${sni.port}"`,
      '[pool.default]\nhealth = { type = "none" }',
      `[[pool.default.backend]]\nname = "b"\naddress = "127.0.0.1:${fallback.port}"`,
      '',
    ].join('\n'),
  );
  t.after(async () => {
    await d.cleanup();
    await sni.close();
    await fallback.close();
  });
  const misses = async (name: string): Promise<Record<string, number>> =>
    ((await d.ctl('show stats')) as { listeners: ListenerSnapshot[] }).listeners.find((l) => l.name === name)!
      .peekMisses;

  for (const [kb, records] of [
    [5, 1],
    [9, 1],
    [15, 1],
    [15, 4],
  ] as const) {
    const hello = clientHello('big.example.test', kb * 1024, records);
    assert.deepEqual(parseClientHello(hello), { status: 'ok', sni: 'big.example.test' });
    const r = await sendSegmented(ports.big, hello);
    assert.equal(r.name, 'sni', `${kb} KB in ${records} record(s)`);
    assert.deepEqual(r.echoed, hello, 'relayed unchanged');
  }
  assert.deepEqual(await misses('big'), { too_large: 0, timeout: 0, client_end: 0, not_tls: 0, bad_hello: 0 });

  // a listener that peeks at 4096 bytes cannot read a 9 KB hello: the default pool, counted, logged
  const hello = clientHello('big.example.test', 9 * 1024);
  const r = await sendSegmented(ports.small, hello);
  assert.equal(r.name, 'default');
  assert.deepEqual(r.echoed, hello);
  assert.equal((await misses('small')).too_large, 1);
  // the same in one write (one read on loopback): the bound is the same whatever the segments
  const whole = await new Promise<string>((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port: ports.small }, () => c.write(hello));
    c.setEncoding('latin1');
    c.once('data', (d: string) => {
      c.destroy();
      resolve(d.slice(0, d.indexOf('\n')));
    });
    c.on('error', reject);
  });
  assert.equal(whole, 'default');
  assert.equal((await misses('small')).too_large, 2);

  // half a hello, then nothing until inspect_delay passes
  const half = await sendSegmented(ports.slow, hello, 4 * 1448);
  assert.equal(half.name, 'default');
  assert.equal((await misses('slow')).timeout, 1);

  // not TLS at all, and a handshake record that holds no ClientHello: the default pool, counted
  const plain = await sendSegmented(ports.big, Buffer.from('GET / HTTP/1.1\r\nHost: big.example.test\r\n\r\n'));
  assert.equal(plain.name, 'default');
  const notHello = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x08, 0x02, 0x00, 0x00, 0x04, 0x03, 0x03, 0x00, 0x00]);
  assert.equal((await sendSegmented(ports.big, notHello)).name, 'default');
  assert.deepEqual(await misses('big'), { too_large: 0, timeout: 0, client_end: 0, not_tls: 1, bad_hello: 1 });

  // the metric says the same, by listener and reason
  const fams = parsePromText(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
  const metric = (listener: string, reason: string): number | undefined =>
    sampleValue(fams, 'netmon_listener_peek_misses_total', { listener, reason });
  assert.deepEqual(
    [metric('small', 'too_large'), metric('slow', 'timeout'), metric('big', 'not_tls'), metric('big', 'bad_hello')],
    [2, 1, 1, 1],
  );
  assert.equal(metric('big', 'too_large'), 0);

  const logged = (): Record<string, unknown>[] =>
    d.stdout
      .join('')
      .split('\n')
      .filter((l) => l.includes('"msg":"peek ended without a verdict"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  await waitFor(() => logged().length === 5, 5000, 'five debug lines');
  assert.deepEqual(
    logged().map((l) => [l['level'], l['listener'], l['reason']]),
    [
      ['debug', 'small', 'too_large'],
      ['debug', 'small', 'too_large'],
      ['debug', 'slow', 'timeout'],
      ['debug', 'big', 'not_tls'],
      ['debug', 'big', 'bad_hello'],
    ],
  );
});
