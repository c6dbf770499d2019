// What protocol a connection speaks, from its first bytes. From the client:
// TLS, HTTP/1.x, the HTTP/2 connection preface (prior knowledge, h2c), SSH, or
// something else. From a server that speaks first: an SSH banner, an SMTP or FTP
// `220` greeting, a MySQL/MariaDB handshake. Never throws; answers null while the
// bytes seen so far could still be more than one.
import type { Protocol, RouteProtocol } from '../../state/names.js';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const SSH = Buffer.from('SSH-', 'latin1');
// request methods followed by a space (RFC 9110 9.3, plus PATCH)
const METHODS = ['GET ', 'HEAD ', 'POST ', 'PUT ', 'DELETE ', 'CONNECT ', 'OPTIONS ', 'TRACE ', 'PATCH '].map((m) =>
  Buffer.from(m, 'latin1'),
);

/** 'match': buf starts with p; 'prefix': buf is a proper prefix of p; 'no' otherwise */
function compare(buf: Buffer, p: Buffer): 'match' | 'prefix' | 'no' {
  const n = Math.min(buf.length, p.length);
  for (let i = 0; i < n; i++) if (buf[i] !== p[i]) return 'no';
  return buf.length >= p.length ? 'match' : 'prefix';
}

/**
 * Classify the first bytes. Returns null when more bytes are needed (an empty
 * buffer, or a prefix of a known signature).
 */
export function sniffProtocol(buf: Buffer): RouteProtocol | null {
  if (buf.length === 0) return null;
  const c = buf[0]!;
  if (c === 0x16) {
    // handshake record, major version 3: SSL 3.0 / TLS 1.x
    if (buf.length < 3) return null;
    return buf[1] === 0x03 && buf[2]! <= 0x04 ? 'tls' : 'other';
  }
  let waiting = false;
  const h2 = compare(buf, H2_PREFACE);
  if (h2 === 'match') return 'http2';
  if (h2 === 'prefix') waiting = true;
  const ssh = compare(buf, SSH);
  if (ssh === 'match') return 'ssh';
  if (ssh === 'prefix') waiting = true;
  for (const m of METHODS) {
    const r = compare(buf, m);
    if (r === 'match') return 'http1';
    if (r === 'prefix') waiting = true;
  }
  return waiting ? null : 'other';
}

/**
 * The best answer once no more bytes will come (limit, timeout, FIN): a prefix
 * of a signature counts as 'other'; nothing at all is null (the caller counts
 * it as 'unknown').
 */
export function sniffFinal(buf: Buffer): RouteProtocol | null {
  if (buf.length === 0) return null;
  return sniffProtocol(buf) ?? 'other';
}

/** a greeting line longer than this without its end is not waited for */
const MAX_GREETING_LINE = 512;
const SMTP = /SMTP/i;
const FTP = /FTP/i;

/**
 * Classify the first bytes a server sent before the client sent any (RFC 4253
 * 4.2 SSH identification string; RFC 5321 4.2 / RFC 959 4.2 `220` reply; the
 * MySQL client/server protocol's initial handshake packet, protocol version 10).
 * Returns null while more bytes are needed.
 */
export function sniffGreeting(buf: Buffer): Protocol | null {
  if (buf.length === 0) return null;
  const ssh = compare(buf, SSH);
  if (ssh === 'match') return 'ssh';
  if (ssh === 'prefix') return null;
  if (buf[0] === 0x32 /* '2' */) {
    if (buf.length < 4) return compare(buf, Buffer.from('220', 'latin1')) === 'no' ? mysql(buf) : null;
    if (buf[1] === 0x32 && buf[2] === 0x30 && (buf[3] === 0x20 || buf[3] === 0x2d)) return reply220(buf);
  }
  return mysql(buf);
}

/**
 * A `220 ` or `220-` line: SMTP or FTP by what the server calls itself in its first
 * MAX_GREETING_LINE bytes, else 'other'. Past the bound the answer is already given,
 * so an LF after it must not widen what is read: the verdict would depend on how the
 * bytes were segmented.
 */
function reply220(buf: Buffer): Protocol | null {
  const end = buf.indexOf(0x0a);
  if (end < 0 && buf.length < MAX_GREETING_LINE) return null;
  const line = buf.toString('latin1', 4, end < 0 || end > MAX_GREETING_LINE ? MAX_GREETING_LINE : end);
  if (SMTP.test(line)) return 'smtp';
  if (FTP.test(line)) return 'ftp';
  return 'other';
}

/**
 * The initial handshake packet: a 3-byte little-endian payload length, sequence 0,
 * protocol version 10, then the server version as printable text ending in NUL.
 */
function mysql(buf: Buffer): Protocol | null {
  const n = buf.length;
  if (n >= 4 && buf[3] !== 0) return 'other';
  if (n >= 5 && buf[4] !== 0x0a) return 'other';
  if (n >= 3) {
    const len = buf[0]! | (buf[1]! << 8) | (buf[2]! << 16);
    if (len < 16 || len > 4096) return 'other';
  }
  for (let i = 5; i < n; i++) {
    const c = buf[i]!;
    if (c === 0) return i > 5 ? 'mysql' : 'other';
    if (c < 0x20 || c > 0x7e) return 'other';
    if (i > 64) return 'other';
  }
  return null;
}
