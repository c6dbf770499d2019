// PROXY protocol v1/v2 headers (HAProxy's doc/proxy-protocol.txt). Invariants:
// the parser answers one of its three statuses; an accepted header lies within
// the bytes and within the spec's bounds (v1: 107 bytes with CRLF; v2: 16 + its
// length, at most the limit); every proper prefix of an accepted header reads
// as incomplete; a decision, once made, stays the same as more bytes arrive; an
// accepted TCP header rebuilt by the sender round-trips to the same endpoints;
// a well-formed header gives exactly what was encoded.
import {
  buildProxyV1,
  buildProxyV2,
  buildProxyV2Local,
  parseProxyHeader,
  PROXY_V2_DEFAULT_MAX,
  type Endpoint,
  type ProxyParseResult,
} from '../../../daemon/data/edge/proxy-protocol.js';
import { parseIp } from '../../../daemon/net/ip.js';
import { tokens } from '../mutate.js';
import type { Rng } from '../rng.js';
import { oracle } from '../oracle.js';
import { show, type FuzzTarget } from '../target.js';

interface Expect {
  status: 'ok' | 'invalid';
  headerLength?: number;
  command?: 'proxy' | 'local';
  /** endpoints as encoded; absent: the header carries none (UNKNOWN, LOCAL, AF_UNSPEC) */
  source?: Endpoint;
  destination?: Endpoint;
}

const V1_MAX = 107;
const V2_SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function ipv4(rng: Rng): string {
  return [rng.int(256), rng.int(256), rng.int(256), rng.int(256)].join('.');
}

function ipv6(rng: Rng): string {
  const groups = Array.from({ length: 8 }, () => (rng.chance(0.3) ? 0 : rng.int(0x10000)).toString(16));
  const text = groups.join(':');
  // sometimes the shortest spelling with ::, sometimes mixed case
  if (rng.chance(0.3)) return text.replace(/(^|:)0(:0)+(:|$)/, '::');
  return rng.chance(0.2) ? text.toUpperCase() : text;
}

function address(rng: Rng): string {
  const r = rng.int(10);
  if (r < 4) return ipv4(rng);
  if (r < 8) return ipv6(rng);
  if (r < 9) return `::ffff:${ipv4(rng)}`;
  return rng.pick(['unix:/run/x.sock', 'localhost', '', 'fe80::1%eth0', '1.2.3']);
}

function endpoint(rng: Rng): Endpoint {
  return { address: address(rng), port: rng.chance(0.9) ? rng.int(65536) : rng.pick([-1, 65536, 1.5]) };
}

function ipOf(a: string): string | null {
  const p = parseIp(a);
  return p === null ? null : `${p.family}:${p.bytes.join('.')}`;
}

/** TLVs (type, 16-bit length, value) for a v2 header. */
function tlvs(rng: Rng): Buffer {
  const out: Buffer[] = [];
  for (let i = rng.int(4); i > 0; i--) {
    const v = rng.bytes(rng.size(64));
    const h = Buffer.alloc(3);
    h[0] = rng.int(256);
    h.writeUInt16BE(v.length, 1);
    out.push(h, v);
  }
  return Buffer.concat(out);
}

function unixV2(rng: Rng): { input: Buffer; expect: Expect } {
  const body = Buffer.alloc(216);
  const src = rng.chars(rng.int(100), 'abcdefgh/._-');
  const dst = rng.chars(rng.int(100), 'abcdefgh/._-');
  body.write(src, 0, 'latin1');
  body.write(dst, 108, 'latin1');
  const extra = tlvs(rng);
  const h = Buffer.alloc(16);
  V2_SIG.copy(h);
  h[12] = 0x21;
  h[13] = 0x31;
  h.writeUInt16BE(216 + extra.length, 14);
  const input = Buffer.concat([h, body, extra]);
  return {
    input,
    expect: {
      status: 'ok',
      headerLength: input.length,
      command: 'proxy',
      source: { address: src, port: 0 },
      destination: { address: dst, port: 0 },
    },
  };
}

function structured(rng: Rng): { input: Buffer; expect: Expect } {
  const payload = rng.chance(0.5) ? rng.bytes(rng.size(64)) : Buffer.alloc(0);
  const r = rng.int(10);
  let header: Buffer;
  let expect: Expect;
  if (r < 7) {
    const [src, dst] = [endpoint(rng), endpoint(rng)];
    const v2 = rng.chance(0.5);
    header = (v2 ? buildProxyV2 : buildProxyV1)(src, dst);
    const ip = ipOf(src.address) !== null && ipOf(dst.address) !== null;
    const ports = [src.port, dst.port].every((p) => Number.isInteger(p) && p >= 0 && p <= 65535);
    expect = ip && ports ? { status: 'ok', command: 'proxy', source: src, destination: dst } : { status: 'ok' };
    if (v2 && rng.chance(0.3)) {
      const extra = tlvs(rng);
      header = Buffer.concat([header, extra]);
      header.writeUInt16BE(header.length - 16, 14);
    }
  } else if (r < 8) {
    header = buildProxyV2Local();
    expect = { status: 'ok', command: 'local' };
  } else if (r < 9) {
    // UNKNOWN with anything after it, up to and past the 107-byte bound
    const total = rng.chance(0.5) ? rng.range(V1_MAX - 3, V1_MAX + 3) : rng.range(15, V1_MAX);
    const junk = total > 15 ? ' ' + rng.chars(total - 16, 'abcdefxyz0123456789 :.') : '';
    header = Buffer.from(`PROXY UNKNOWN${junk}\r\n`, 'latin1');
    expect = header.length <= V1_MAX ? { status: 'ok' } : { status: 'invalid' };
  } else {
    const u = unixV2(rng);
    header = u.input;
    expect = u.expect;
  }
  if (expect.status === 'ok') expect.headerLength = header.length;
  return { input: Buffer.concat([header, payload]), expect };
}

function sameEndpoint(got: Endpoint | undefined, want: Endpoint, unix: boolean): boolean {
  if (!got || got.port !== want.port) return false;
  return unix ? got.address === want.address : ipOf(got.address) === ipOf(want.address);
}

function same(a: ProxyParseResult, b: ProxyParseResult): boolean {
  if (a.status !== b.status) return false;
  return a.status !== 'ok' || show(a) === show(b);
}

function check(buf: Buffer, expect?: Expect): string | null {
  const r = parseProxyHeader(buf);
  return oracle(() => invariants(buf, r, expect));
}

function invariants(buf: Buffer, r: ProxyParseResult, expect?: Expect): string | null {
  if (r.status !== 'ok' && r.status !== 'invalid' && r.status !== 'incomplete') return `status ${show(r)}`;
  if (r.status === 'ok') {
    const n = r.headerLength;
    if (!(n > 0 && n <= buf.length)) return `header of ${n} bytes in ${buf.length}`;
    if (r.version === 1 && (n > V1_MAX || buf[n - 2] !== 0x0d || buf[n - 1] !== 0x0a))
      return `v1 header of ${n} bytes (at most ${V1_MAX}, ending in CRLF)`;
    if (r.version === 2 && (n > PROXY_V2_DEFAULT_MAX || n !== 16 + buf.readUInt16BE(14)))
      return `v2 header of ${n} bytes`;
    // every proper prefix of an accepted header reads as incomplete
    for (let k = 0; k < n; k++) {
      const p = parseProxyHeader(buf.subarray(0, k));
      if (p.status !== 'incomplete') return `prefix of ${k} of a ${n}-byte header: ${show(p)}`;
    }
    // what a sender rebuilds from an accepted TCP header reads back the same
    if ((r.family === 'tcp4' || r.family === 'tcp6') && r.source && r.destination) {
      for (const build of [buildProxyV1, buildProxyV2]) {
        const again = parseProxyHeader(build(r.source, r.destination));
        if (
          again.status !== 'ok' ||
          !sameEndpoint(again.source, r.source, false) ||
          !sameEndpoint(again.destination, r.destination, false)
        )
          return `rebuilt header reads ${show(again)}, not ${show(r)}`;
      }
    }
  } else {
    // a decision, once made, does not change as more bytes arrive
    const step = Math.max(1, Math.floor(buf.length / 24));
    for (let k = 1; k < buf.length; k += step) {
      const p = parseProxyHeader(buf.subarray(0, k));
      if (p.status !== 'incomplete' && !same(p, r))
        return `prefix of ${k} bytes: ${show(p)}; all ${buf.length}: ${show(r)}`;
    }
  }
  if (expect) {
    if (r.status !== expect.status) return `expected ${show(expect)}, got ${show(r)}`;
    if (r.status === 'ok') {
      if (r.headerLength !== expect.headerLength) return `expected ${show(expect)}, got ${show(r)}`;
      if (expect.command && r.command !== expect.command) return `expected ${show(expect)}, got ${show(r)}`;
      const unix = r.family === 'unix';
      if (expect.source && !sameEndpoint(r.source, expect.source, unix))
        return `expected ${show(expect)}, got ${show(r)}`;
      if (expect.destination && !sameEndpoint(r.destination, expect.destination, unix))
        return `expected ${show(expect)}, got ${show(r)}`;
      if (!expect.source && r.source) return `expected no addresses, got ${show(r)}`;
    }
  }
  return null;
}

export const proxyTarget: FuzzTarget<Expect> = {
  name: 'proxy',
  title: 'PROXY v1/v2',
  maxLength: 600,
  dictionary: tokens([
    'PROXY ',
    'TCP4 ',
    'TCP6 ',
    'UNKNOWN',
    '\r\n',
    ' ',
    ':',
    '::',
    '.',
    '65535',
    '0',
    V2_SIG.toString('latin1'),
    '\x21',
    '\x20',
    '\x11',
    '\x21',
    '\x31',
    '\x00\x0c',
    '\xff\xff',
  ]),
  structured,
  random: (rng) => {
    // half look like a header's start
    const tail = rng.bytes(rng.size(300));
    const r = rng.int(4);
    if (r === 0) return Buffer.concat([Buffer.from('PROXY ', 'latin1'), tail]);
    if (r === 1) return Buffer.concat([V2_SIG, tail]);
    return tail;
  },
  check,
};
