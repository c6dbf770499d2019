// The server name (SNI) of a TLS ClientHello (RFC 8446 4.1.2, RFC 6066 3), read
// from TLS records as they arrive. Invariants: one of the three statuses; a
// name, when there is one, is lower-case host-name characters, 1..255 of them;
// every proper prefix of a well-formed hello reads as incomplete; a decision,
// once made, stays the same as more bytes arrive; the name extracted is the one
// encoded, however the hello is split into records.
import { parseClientHello, type ClientHelloResult } from '../../../daemon/data/edge/client-hello.js';
import { tokens } from '../mutate.js';
import type { Rng } from '../rng.js';
import { oracle } from '../oracle.js';
import { show, type FuzzTarget } from '../target.js';

interface Expect {
  sni: string | null;
  /** bytes of the records that hold the hello (what follows is another record) */
  length: number;
}

const HOST_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._';

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function extension(type: number, body: Buffer): Buffer {
  return Buffer.concat([u16(type), u16(body.length), body]);
}

function serverName(name: string): Buffer {
  const host = Buffer.from(name, 'latin1');
  const entry = Buffer.concat([Buffer.from([0]), u16(host.length), host]);
  return extension(0, Buffer.concat([u16(entry.length), entry]));
}

function hostName(rng: Rng): string {
  if (rng.chance(0.1)) return rng.chars(rng.range(200, 255), HOST_CHARS);
  const labels = Array.from({ length: rng.range(1, 5) }, () => rng.chars(rng.range(1, 20), HOST_CHARS));
  return labels.join('.').slice(0, 255);
}

/** The handshake message: ClientHello with random fields and extensions, the name among them or not. */
function clientHello(rng: Rng, name: string | null): Buffer {
  const exts: Buffer[] = [];
  for (let i = rng.int(4); i > 0; i--) exts.push(extension(rng.range(1, 0xfffe), rng.bytes(rng.size(40))));
  if (name !== null) exts.splice(rng.int(exts.length + 1), 0, serverName(name));
  const extBytes = Buffer.concat(exts);
  const suites = rng.bytes(2 * rng.range(1, 20));
  const comp = rng.bytes(rng.range(1, 3));
  const session = rng.bytes(rng.pick([0, 32, rng.int(33)]));
  const body = Buffer.concat([
    Buffer.from([0x03, 0x03]),
    rng.bytes(32),
    Buffer.from([session.length]),
    session,
    u16(suites.length),
    suites,
    Buffer.from([comp.length]),
    comp,
    // a hello without extensions ends after the compression methods (SSLv3 style)
    ...(exts.length === 0 && rng.chance(0.5) ? [] : [u16(extBytes.length), extBytes]),
  ]);
  const len = body.length;
  return Buffer.concat([Buffer.from([0x01, len >> 16, (len >> 8) & 0xff, len & 0xff]), body]);
}

/** The handshake bytes in TLS records, cut at random points. */
function records(rng: Rng, hs: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  while (at < hs.length) {
    const n = rng.chance(0.7) ? hs.length - at : 1 + rng.int(hs.length - at);
    const chunk = hs.subarray(at, at + n);
    out.push(Buffer.from([0x16, 0x03, rng.pick([0x01, 0x03]), chunk.length >> 8, chunk.length & 0xff]), chunk);
    at += n;
  }
  return Buffer.concat(out);
}

function structured(rng: Rng): { input: Buffer; expect: Expect } {
  const name = rng.chance(0.85) ? hostName(rng) : null;
  const recs = records(rng, clientHello(rng, name));
  // what may follow: a ChangeCipherSpec record (TLS 1.3 middlebox mode), or nothing
  const after = rng.chance(0.3) ? Buffer.from([0x14, 0x03, 0x03, 0x00, 0x01, 0x01]) : Buffer.alloc(0);
  return { input: Buffer.concat([recs, after]), expect: { sni: name?.toLowerCase() ?? null, length: recs.length } };
}

function same(a: ClientHelloResult, b: ClientHelloResult): boolean {
  return a.status === b.status && (a.status !== 'ok' || (b.status === 'ok' && a.sni === b.sni));
}

function check(buf: Buffer, expect?: Expect): string | null {
  const r = parseClientHello(buf);
  return oracle(() => invariants(buf, r, expect));
}

function invariants(buf: Buffer, r: ClientHelloResult, expect?: Expect): string | null {
  if (r.status !== 'ok' && r.status !== 'invalid' && r.status !== 'incomplete') return `status ${show(r)}`;
  if (r.status === 'ok' && r.sni !== null && !/^[a-z0-9._-]{1,255}$/.test(r.sni)) return `server name ${show(r.sni)}`;
  // a decision, once made, does not change as more bytes arrive
  const step = Math.max(1, Math.floor(buf.length / 16));
  for (let k = 1; k < buf.length; k += step) {
    const p = parseClientHello(buf.subarray(0, k));
    if (p.status !== 'incomplete' && !same(p, r))
      return `prefix of ${k} bytes: ${show(p)}; all ${buf.length}: ${show(r)}`;
  }
  if (expect) {
    if (r.status !== 'ok' || r.sni !== expect.sni) return `expected server name ${show(expect.sni)}, got ${show(r)}`;
    // every proper prefix of the hello reads as incomplete (sampled: all would be quadratic)
    for (let i = 0; i < 12; i++) {
      const k = i === 0 ? expect.length - 1 : Math.floor((expect.length * i) / 12);
      const p = parseClientHello(buf.subarray(0, k));
      if (p.status !== 'incomplete') return `prefix of ${k} of a ${expect.length}-byte hello: ${show(p)}`;
    }
  }
  return null;
}

export const clientHelloTarget: FuzzTarget<Expect> = {
  name: 'client-hello',
  title: 'ClientHello/SNI',
  maxLength: 4096,
  dictionary: tokens([
    '\x16\x03\x01',
    '\x16\x03\x03',
    '\x01\x00',
    '\x00\x00',
    '\x00',
    '\xff\xff',
    '\x40\x00',
    '\x14\x03\x03',
  ]),
  structured,
  random: (rng) => {
    const tail = rng.bytes(rng.size(600));
    // half look like a handshake record's start
    return rng.chance(0.5)
      ? Buffer.concat([Buffer.from([0x16, 0x03, rng.int(5), rng.int(256), rng.int(256), 0x01]), tail])
      : tail;
  },
  check,
};
