// What protocol a client speaks, from its first bytes: TLS, HTTP/1.x, the HTTP/2
// connection preface (prior knowledge, h2c), SSH, or something else. Never
// throws; answers null while the bytes seen so far could still be more than one.
import type { RouteProtocol } from '../../state/names.js';

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
