// The server name (SNI) from a TLS ClientHello, read from the first bytes a
// client sends, without terminating TLS. The parser never throws and never
// reads past the bytes it was given: every length is checked against what is
// there before it is used. A ClientHello split over several TLS records is
// reassembled (up to the bytes the caller peeked).

export type ClientHelloResult =
  /** more bytes are needed to decide */
  | { status: 'incomplete' }
  /** not a TLS ClientHello, or a malformed one */
  | { status: 'invalid'; reason: string }
  /** a complete ClientHello; `sni` is the lower-cased host name, or null when it carries none */
  | { status: 'ok'; sni: string | null };

const INCOMPLETE: { status: 'incomplete' } = Object.freeze({ status: 'incomplete' });
const RT_HANDSHAKE = 0x16;
const HS_CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const NAME_TYPE_HOST = 0x00;
/** a TLS record's payload is at most 2^14 bytes (RFC 8446 5.1); allow the 2^14+256 of TLS 1.2 ciphertext */
const MAX_RECORD = 16384 + 256;

function invalid(reason: string): { status: 'invalid'; reason: string } {
  return { status: 'invalid', reason };
}

/**
 * Parse the ClientHello at the start of `buf` (TLS records, as sent on the wire).
 */
export function parseClientHello(buf: Buffer): ClientHelloResult {
  // Gather the handshake bytes from consecutive handshake records.
  const hs = handshakeBytes(buf);
  if (hs.status !== 'ok') return hs;
  const b = hs.data;
  if (b.length < 4) return hs.complete ? invalid('handshake message truncated') : INCOMPLETE;
  if (b[0] !== HS_CLIENT_HELLO) return invalid('first handshake message is not a ClientHello');
  const len = (b[1]! << 16) | (b[2]! << 8) | b[3]!;
  if (b.length < 4 + len) return hs.complete ? invalid('ClientHello longer than its records') : INCOMPLETE;
  return parseBody(b, 4, 4 + len);
}

type Handshake =
  { status: 'ok'; data: Buffer; complete: boolean } | { status: 'incomplete' } | { status: 'invalid'; reason: string };

/**
 * The concatenated payloads of the handshake records at the start of `buf`.
 * `complete` is false when the last record is cut short (more bytes may come).
 */
function handshakeBytes(buf: Buffer): Handshake {
  if (buf.length === 0) return INCOMPLETE;
  if (buf[0] !== RT_HANDSHAKE) return invalid('not a TLS handshake record');
  if (buf.length < 5) return INCOMPLETE;
  let p = 0;
  const parts: Buffer[] = [];
  let total = 0;
  let need = -1; // handshake length once known
  while (p < buf.length) {
    if (buf[p] !== RT_HANDSHAKE) break; // another record type follows: the ClientHello must be complete already
    if (buf.length - p < 5)
      return parts.length === 0 ? INCOMPLETE : { status: 'ok', data: join(parts, total), complete: false };
    if (buf[p + 1] !== 0x03) return invalid('unknown TLS record version');
    const rlen = buf.readUInt16BE(p + 3);
    if (rlen === 0 || rlen > MAX_RECORD) return invalid('bad TLS record length');
    const avail = Math.min(rlen, buf.length - p - 5);
    parts.push(buf.subarray(p + 5, p + 5 + avail));
    total += avail;
    if (avail < rlen) return { status: 'ok', data: join(parts, total), complete: false };
    p += 5 + rlen;
    if (need < 0 && total >= 4) {
      const first = parts.length === 1 ? parts[0]! : join(parts, total);
      need = 4 + ((first[1]! << 16) | (first[2]! << 8) | first[3]!);
    }
    if (need >= 0 && total >= need) break;
  }
  const complete = need >= 0 && total >= need;
  return { status: 'ok', data: join(parts, total), complete: complete || p < buf.length };
}

function join(parts: Buffer[], total: number): Buffer {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}

/** ClientHello body from `p` to `end` (RFC 8446 4.1.2). */
function parseBody(b: Buffer, p: number, end: number): ClientHelloResult {
  // legacy_version(2) random(32)
  p += 34;
  if (p + 1 > end) return invalid('ClientHello truncated before session id');
  p += 1 + b[p]!; // legacy_session_id
  if (p + 2 > end) return invalid('ClientHello truncated before cipher suites');
  p += 2 + b.readUInt16BE(p); // cipher_suites
  if (p + 1 > end) return invalid('ClientHello truncated before compression methods');
  p += 1 + b[p]!; // legacy_compression_methods
  if (p > end) return invalid('ClientHello truncated in compression methods');
  if (p === end) return { status: 'ok', sni: null }; // no extensions (SSLv3-style hello)
  if (p + 2 > end) return invalid('ClientHello truncated before extensions');
  const extEnd = p + 2 + b.readUInt16BE(p);
  p += 2;
  if (extEnd > end) return invalid('extensions run past the ClientHello');
  while (p < extEnd) {
    if (p + 4 > extEnd) return invalid('truncated extension header');
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    p += 4;
    if (p + len > extEnd) return invalid('an extension runs past the extensions');
    if (type === EXT_SERVER_NAME) return serverName(b, p, p + len);
    p += len;
  }
  return { status: 'ok', sni: null };
}

/** server_name extension body (RFC 6066 3): a list of (type, name). */
function serverName(b: Buffer, p: number, end: number): ClientHelloResult {
  if (p + 2 > end) return invalid('server_name extension truncated');
  const listEnd = p + 2 + b.readUInt16BE(p);
  p += 2;
  if (listEnd > end) return invalid('server_name list runs past its extension');
  while (p < listEnd) {
    if (p + 3 > listEnd) return invalid('server_name entry truncated');
    const type = b[p]!;
    const len = b.readUInt16BE(p + 1);
    p += 3;
    if (p + len > listEnd) return invalid('server name runs past its list');
    if (type === NAME_TYPE_HOST) {
      if (len === 0 || len > 255) return invalid('server name length out of range');
      for (let i = p; i < p + len; i++) {
        const c = b[i]!;
        // host names are ASCII letters, digits, '-', '.', '_' (seen in the wild)
        const ok =
          (c >= 0x61 && c <= 0x7a) ||
          (c >= 0x41 && c <= 0x5a) ||
          (c >= 0x30 && c <= 0x39) ||
          c === 0x2d ||
          c === 0x2e ||
          c === 0x5f;
        if (!ok) return invalid('server name holds a byte that is not a host name character');
      }
      return { status: 'ok', sni: b.toString('latin1', p, p + len).toLowerCase() };
    }
    p += len;
  }
  return { status: 'ok', sni: null };
}
