// PROXY protocol v1 (text) and v2 (binary), as specified by HAProxy
// (doc/proxy-protocol.txt): parse a header from bytes that may still be arriving,
// and build one to send to a backend. The parser never throws and never reads
// past the bytes it was given; every length is checked before it is used.
import { formatIp, ipFromWords, ipWords, parseIp, spaceWords } from '../../net/ip.js';

export interface Endpoint {
  /** IP literal; for an AF_UNIX v2 header, the socket path */
  address: string;
  port: number;
}

type ProxyFamily = 'tcp4' | 'tcp6' | 'unix' | 'unknown';

export interface ProxyHeader {
  status: 'ok';
  /** bytes the header takes at the start of the buffer; what follows is payload */
  headerLength: number;
  version: 1 | 2;
  /** 'local': the proxy speaks for itself (health checks); use the connection's own addresses */
  command: 'proxy' | 'local';
  family: ProxyFamily;
  /** absent for LOCAL, UNKNOWN and unsupported families: use the connection's own addresses */
  source?: Endpoint;
  destination?: Endpoint;
}

export type ProxyParseResult = { status: 'incomplete' } | { status: 'invalid'; reason: string } | ProxyHeader;

/** v1 lines are at most 107 bytes including CRLF (spec, section 2.1). */
const PROXY_V1_MAX = 107;
/** Default bound on a whole v2 header: addresses plus a generous amount of TLVs. */
export const PROXY_V2_DEFAULT_MAX = 4096;

const V2_SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const CR = 0x0d;
const LF = 0x0a;
const INCOMPLETE: { status: 'incomplete' } = Object.freeze({ status: 'incomplete' });

function invalid(reason: string): { status: 'invalid'; reason: string } {
  return { status: 'invalid', reason };
}

/**
 * Parse a PROXY header at the start of `buf`. `maxLength` bounds a v2 header
 * (16-byte preamble plus its declared length); larger ones are invalid.
 */
export function parseProxyHeader(buf: Buffer, maxLength: number = PROXY_V2_DEFAULT_MAX): ProxyParseResult {
  if (buf.length === 0) return INCOMPLETE;
  if (buf[0] === V1_PREFIX[0]) return parseV1(buf);
  if (buf[0] === V2_SIG[0]) return parseV2(buf, maxLength);
  return invalid('no PROXY protocol signature');
}

// ---- v1 ----

function parseV1(buf: Buffer): ProxyParseResult {
  // the CR of a line of at most 107 bytes is at index 105 or before: the limit counts the CRLF
  const limit = Math.min(buf.length, PROXY_V1_MAX - 1);
  const prefix = Math.min(limit, V1_PREFIX.length);
  for (let i = 0; i < prefix; i++) {
    if (buf[i] !== V1_PREFIX[i]) return invalid('no PROXY protocol signature');
  }
  let eol = -1;
  for (let i = prefix; i < limit; i++) {
    const c = buf[i]!;
    if (c === CR) {
      if (i + 1 === buf.length) return INCOMPLETE;
      if (buf[i + 1] !== LF) return invalid('v1: CR not followed by LF');
      eol = i;
      break;
    }
    if (c < 0x20 || c > 0x7e) return invalid('v1: a byte that is not printable ASCII');
  }
  if (eol < 0) {
    return buf.length >= PROXY_V1_MAX - 1 ? invalid('v1: no CRLF within 107 bytes') : INCOMPLETE;
  }
  const headerLength = eol + 2;
  const line = buf.toString('latin1', V1_PREFIX.length, eol);
  const parts = line.split(' ');
  const proto = parts[0];
  if (proto === 'UNKNOWN') {
    // the rest of the line may hold anything and is ignored (spec)
    return { status: 'ok', headerLength, version: 1, command: 'proxy', family: 'unknown' };
  }
  if (proto !== 'TCP4' && proto !== 'TCP6') return invalid('v1: protocol must be TCP4, TCP6 or UNKNOWN');
  if (parts.length !== 5) return invalid('v1: expected 4 fields after the protocol, separated by single spaces');
  const want = proto === 'TCP4' ? 4 : 6;
  const src = v1Address(parts[1]!, want);
  const dst = v1Address(parts[2]!, want);
  if (src === null || dst === null) return invalid(`v1: an address that is not ${proto === 'TCP4' ? 'IPv4' : 'IPv6'}`);
  const sport = v1Port(parts[3]!);
  const dport = v1Port(parts[4]!);
  if (sport < 0 || dport < 0) return invalid('v1: a port that is not 0..65535');
  return {
    status: 'ok',
    headerLength,
    version: 1,
    command: 'proxy',
    family: proto === 'TCP4' ? 'tcp4' : 'tcp6',
    source: { address: src, port: sport },
    destination: { address: dst, port: dport },
  };
}

/** Canonical text of a v1 address of the wanted family, or null. */
function v1Address(s: string, want: 4 | 6): string | null {
  if (s.includes('%')) return null;
  const hasColon = s.includes(':');
  if ((want === 4) === hasColon) return null;
  const ip = parseIp(s);
  // an IPv4-mapped TCP6 address is reported as the IPv4 client it is
  return ip === null ? null : formatIp(ip);
}

function v1Port(s: string): number {
  if (s.length === 0 || s.length > 5) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
  }
  if (s.length > 1 && s.charCodeAt(0) === 0x30) return -1;
  return n <= 65535 ? n : -1;
}

// ---- v2 ----

const AF_UNSPEC = 0;
const AF_INET = 1;
const AF_INET6 = 2;
const AF_UNIX = 3;
const T_STREAM = 1;

function parseV2(buf: Buffer, maxLength: number): ProxyParseResult {
  const sigLen = Math.min(buf.length, V2_SIG.length);
  for (let i = 0; i < sigLen; i++) {
    if (buf[i] !== V2_SIG[i]) return invalid('no PROXY protocol signature');
  }
  if (buf.length < 13) return INCOMPLETE;
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) return invalid('v2: version is not 2');
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return invalid('v2: command is neither LOCAL nor PROXY');
  if (buf.length < 16) return INCOMPLETE;
  const famByte = buf[13]!;
  const len = buf.readUInt16BE(14);
  const total = 16 + len;
  if (total > maxLength) return invalid(`v2: header of ${total} bytes is over the ${maxLength}-byte limit`);
  if (buf.length < total) return INCOMPLETE;
  const af = famByte >> 4;
  const transport = famByte & 0x0f;
  if (af > AF_UNIX || transport > 2) return invalid('v2: unknown address family or transport');
  const addrLen = af === AF_INET ? 12 : af === AF_INET6 ? 36 : af === AF_UNIX ? 216 : 0;
  if (len < addrLen) return invalid('v2: declared length too short for the address family');
  const tlvError = checkTlvs(buf, 16 + addrLen, total);
  if (tlvError !== null) return invalid(tlvError);
  if (cmd === 0) return { status: 'ok', headerLength: total, version: 2, command: 'local', family: 'unknown' };
  // As HAProxy does, families other than TCP over IPv4/IPv6 and stream UNIX
  // sockets (UDP, unspecified) leave the connection's own addresses in force.
  if (af === AF_UNSPEC || transport !== T_STREAM) {
    return { status: 'ok', headerLength: total, version: 2, command: 'proxy', family: 'unknown' };
  }
  const o = 16;
  if (af === AF_INET) {
    return {
      status: 'ok',
      headerLength: total,
      version: 2,
      command: 'proxy',
      family: 'tcp4',
      source: { address: v4Text(buf, o), port: buf.readUInt16BE(o + 8) },
      destination: { address: v4Text(buf, o + 4), port: buf.readUInt16BE(o + 10) },
    };
  }
  if (af === AF_INET6) {
    return {
      status: 'ok',
      headerLength: total,
      version: 2,
      command: 'proxy',
      family: 'tcp6',
      source: { address: v6Text(buf, o), port: buf.readUInt16BE(o + 32) },
      destination: { address: v6Text(buf, o + 16), port: buf.readUInt16BE(o + 34) },
    };
  }
  return {
    status: 'ok',
    headerLength: total,
    version: 2,
    command: 'proxy',
    family: 'unix',
    source: { address: unixPath(buf, o), port: 0 },
    destination: { address: unixPath(buf, o + 108), port: 0 },
  };
}

/** TLVs fill the header after the addresses exactly: type(1) length(2) value. */
function checkTlvs(buf: Buffer, start: number, end: number): string | null {
  let p = start;
  while (p < end) {
    if (end - p < 3) return 'v2: truncated TLV';
    const vlen = buf.readUInt16BE(p + 1);
    p += 3 + vlen;
    if (p > end) return 'v2: a TLV runs past the header';
  }
  return null;
}

function v4Text(buf: Buffer, o: number): string {
  return `${buf[o]}.${buf[o + 1]}.${buf[o + 2]}.${buf[o + 3]}`;
}

/** An IPv4-mapped source is reported as the IPv4 client it is (ip.ts). */
function v6Text(buf: Buffer, o: number): string {
  const w = [0, 0, 0, 0];
  for (let k = 0; k < 4; k++) w[k] = buf.readUInt32BE(o + 4 * k);
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return formatIp(ipFromWords(4, [w[3]!]));
  return formatIp(ipFromWords(6, w));
}

function unixPath(buf: Buffer, o: number): string {
  let end = o;
  while (end < o + 108 && buf[end] !== 0) end++;
  return buf.toString('utf8', o, end);
}

// ---- building headers to send ----

const srcWords = new Uint32Array(4);
const dstWords = new Uint32Array(4);

/**
 * Classify a pair of endpoints for sending: both IPv4 -> 4; any IPv6 -> 6 (an
 * IPv4 one is then sent as IPv4-mapped); either not an IP -> 0 (UNKNOWN).
 * Leaves the addresses in srcWords/dstWords: one word each for 4, four for 6.
 */
function pairFamily(src: Endpoint, dst: Endpoint): 0 | 4 | 6 {
  const s = parseIp(src.address);
  const d = parseIp(dst.address);
  if (s === null || d === null || !validPort(src.port) || !validPort(dst.port)) return 0;
  if (s.family === 4 && d.family === 4) {
    ipWords(s, srcWords);
    ipWords(d, dstWords);
    return 4;
  }
  spaceWords(s, srcWords);
  spaceWords(d, dstWords);
  return 6;
}

function validPort(p: number): boolean {
  return Number.isInteger(p) && p >= 0 && p <= 65535;
}

function v1Text(fam: 4 | 6, w: Uint32Array): string {
  if (fam === 4) return formatIp(ipFromWords(4, w));
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return `::ffff:${formatIp(ipFromWords(4, [w[3]!]))}`;
  return formatIp(ipFromWords(6, w));
}

/** "PROXY TCP4 src dst sport dport\r\n"; "PROXY UNKNOWN\r\n" when an address is not an IP. */
export function buildProxyV1(src: Endpoint, dst: Endpoint): Buffer {
  const fam = pairFamily(src, dst);
  if (fam === 0) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  const s = v1Text(fam, srcWords);
  const d = v1Text(fam, dstWords);
  return Buffer.from(`PROXY TCP${fam} ${s} ${d} ${src.port} ${dst.port}\r\n`, 'latin1');
}

/**
 * A v2 PROXY header without TLVs. When an address is not an IP, the header is
 * PROXY with AF_UNSPEC, which tells the receiver to use its own view.
 */
export function buildProxyV2(src: Endpoint, dst: Endpoint): Buffer {
  const fam = pairFamily(src, dst);
  const addrLen = fam === 4 ? 12 : fam === 6 ? 36 : 0;
  const out = Buffer.alloc(16 + addrLen);
  V2_SIG.copy(out, 0);
  out[12] = 0x21; // version 2, PROXY
  out[13] = fam === 4 ? 0x11 : fam === 6 ? 0x21 : 0x00;
  out.writeUInt16BE(addrLen, 14);
  if (fam === 4) {
    out.writeUInt32BE(srcWords[0]!, 16);
    out.writeUInt32BE(dstWords[0]!, 20);
    out.writeUInt16BE(src.port, 24);
    out.writeUInt16BE(dst.port, 26);
  } else if (fam === 6) {
    for (let k = 0; k < 4; k++) {
      out.writeUInt32BE(srcWords[k]!, 16 + 4 * k);
      out.writeUInt32BE(dstWords[k]!, 32 + 4 * k);
    }
    out.writeUInt16BE(src.port, 48);
    out.writeUInt16BE(dst.port, 50);
  }
  return out;
}

/** A v2 LOCAL header: a connection the proxy makes on its own behalf (health checks). */
export function buildProxyV2Local(): Buffer {
  const out = Buffer.alloc(16);
  V2_SIG.copy(out, 0);
  out[12] = 0x20;
  return out;
}
