// IP addresses and ranges: the one parser, built on ipaddr.js, for the config
// loader (allow, deny, trusted_proxies, bind and backend literals) and for the
// workers (the client's address from the socket or a PROXY header). What it
// returns is plain data (number arrays), so a value validated on the main
// thread crosses postMessage as it is and is never parsed again.
//
// One address space (the rule HAProxy applies to IPv4 against IPv6 patterns):
// IPv4 is the IPv4-mapped block ::ffff:0:0/96 of IPv6 (RFC 4291 section 2.5.5.2).
//   - a client ::ffff:127.0.0.1 is the IPv4 client 127.0.0.1, for every rule;
//   - a range inside that block (::ffff:127.0.0.0/104) is the IPv4 range it
//     denotes (127.0.0.0/8), and is stored that way;
//   - an IPv6 range that covers the block (::/0, ::/64, ::ffff:0:0/96 is already
//     0.0.0.0/0) covers every IPv4 client too.
// The deprecated IPv4-compatible spelling "::a.b.c.d" (RFC 4291 section
// 2.5.5.1), which ipaddr.js would read as mapped, is refused.
//
// Spellings are strict: IPv4 is four decimal parts without leading zeros
// ("010.0.0.1" could be octal, "10.1" is a shorthand); no zone index ("%eth0");
// a prefix length is decimal without leading zeros ("/08" is refused).
import ipaddr from 'ipaddr.js';

/** An address as plain data: 4 bytes (IPv4, also for IPv4-mapped IPv6) or 16 bytes (IPv6), network order. */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly bytes: readonly number[];
}

/**
 * A network as plain data: `bytes` is the network address (host bits zero), 4 or
 * 16 bytes in network order; `prefix` is in bits (0..32 or 0..128). A range
 * inside ::ffff:0:0/96 is always held as the IPv4 range it denotes.
 */
export interface IpRange {
  readonly family: 4 | 6;
  readonly bytes: readonly number[];
  readonly prefix: number;
}

export type RangeResult = { ok: true; range: IpRange } | { ok: false; reason: string };

/** Longest IPv6 text with an IPv4 tail ("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"). */
const MAX_TEXT = 45;
const PREFIX = /^(0|[1-9][0-9]{0,2})$/;
/** four decimal parts without leading zeros; ipaddr.js checks each is 0..255 */
const FOUR_PART = /^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}$/;

/**
 * Parse one IP address (no port, no brackets). IPv4-mapped IPv6 gives the IPv4
 * address. Returns null for anything else, including the spellings refused above.
 */
export function parseIp(text: string): IpAddress | null {
  if (text.length === 0 || text.length > MAX_TEXT) return null;
  try {
    if (!text.includes(':')) {
      if (!FOUR_PART.test(text)) return null;
      return { family: 4, bytes: ipaddr.IPv4.parse(text).toByteArray() };
    }
    if (text.includes('%')) return null;
    if (text.includes('.')) {
      const colon = text.lastIndexOf(':');
      if (!FOUR_PART.test(text.slice(colon + 1))) return null;
      if (colon === 1) return null; // "::a.b.c.d", the deprecated IPv4-compatible form
    }
    const bytes = ipaddr.IPv6.parse(text).toByteArray();
    // ::ffff:0:0/96 (ipaddr.js's isIPv4MappedAddress() walks its whole table of special ranges)
    if (isMapped(bytes)) return { family: 4, bytes: bytes.slice(12) };
    return { family: 6, bytes };
  } catch {
    // ipaddr.js throws on what it cannot read (an octet over 255, a malformed group)
    return null;
  }
}

function isMapped(b: readonly number[]): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Why `text` is not an address, for a config message. */
function whyNotIp(text: string): string {
  if (text.includes('%')) return `"${text}": a zone index ("%...") has no meaning in a rule`;
  if (/^::\d+\.\d+\.\d+\.\d+$/.test(text)) {
    return `"${text}" is the deprecated IPv4-compatible form; write "${text.slice(2)}" or "::ffff:${text.slice(2)}"`;
  }
  const tail = text.slice(text.lastIndexOf(':') + 1);
  if (/^\d+(\.\d+){0,3}$/.test(tail) && ipaddr.IPv4.isValid(tail) && !ipaddr.IPv4.isValidFourPartDecimal(tail)) {
    return `"${text}": write IPv4 as four decimal numbers 0..255 without leading zeros`;
  }
  return `"${text}" is not an IPv4 or IPv6 address`;
}

/**
 * Parse a range: "10.0.0.0/8", "2001:db8::/32", "::ffff:10.0.0.0/104" (held as
 * 10.0.0.0/8), or a bare address (a /32 or /128). Host bits set below the
 * prefix are refused, as they usually mean a typo ("10.0.0.1/8").
 */
export function parseIpRange(text: string): RangeResult {
  const bad = (reason: string): RangeResult => ({ ok: false, reason });
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  if (text.trim() !== text || addrText === '') {
    return bad(`"${text}" is not a network like "10.0.0.0/8" or "2001:db8::/32"`);
  }
  const ip = parseIp(addrText);
  if (ip === null) return bad(whyNotIp(addrText));
  const written = addrText.includes(':') ? 128 : 32;
  let prefix = written;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!PREFIX.test(p) || Number(p) > written) {
      return bad(`prefix "/${p}" in "${text}" must be a decimal 0..${written} without leading zeros`);
    }
    prefix = Number(p);
  }
  // written as IPv6 around an IPv4-mapped address
  let range: IpRange;
  if (written === 128 && ip.family === 4) {
    range =
      prefix >= 96
        ? { family: 4, bytes: ip.bytes, prefix: prefix - 96 }
        : { family: 6, bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...ip.bytes], prefix };
  } else {
    range = { family: ip.family, bytes: ip.bytes, prefix };
  }
  const masked = maskBytes(range.bytes, range.prefix);
  if (masked.some((b, i) => b !== range.bytes[i])) {
    const network = formatIpRange({ ...range, bytes: masked });
    return bad(`"${text}" has host bits set below the prefix; did you mean "${network}"?`);
  }
  return { ok: true, range };
}

function maskBytes(bytes: readonly number[], prefix: number): number[] {
  return bytes.map((v, i) => {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    return v & ((0xff << (8 - bits)) & 0xff);
  });
}

/** "10.0.0.1", or RFC 5952 text for IPv6 ("2001:db8::1"). */
export function formatIp(a: IpAddress): string {
  return a.family === 4 ? a.bytes.join('.') : ipaddr.fromByteArray([...a.bytes]).toString();
}

/** "10.0.0.0/8", "2001:db8::/32"; a single host keeps its /32 or /128. */
export function formatIpRange(r: IpRange): string {
  return `${formatIp(r)}/${r.prefix}`;
}

/** The same address from 32-bit words (one for IPv4, four for IPv6), as the shared source table holds it. */
export function ipFromWords(family: 4 | 6, words: ArrayLike<number>): IpAddress {
  const n = family === 4 ? 1 : 4;
  const bytes: number[] = [];
  for (let k = 0; k < n; k++) {
    const w = words[k]! >>> 0;
    bytes.push(w >>> 24, (w >>> 16) & 0xff, (w >>> 8) & 0xff, w & 0xff);
  }
  return { family, bytes };
}

/** Write the address as 32-bit words into `out`: one for IPv4, four for IPv6 (the inverse of ipFromWords). */
export function ipWords(a: IpAddress, out: Uint32Array): void {
  const b = a.bytes;
  const n = a.family === 4 ? 1 : 4;
  for (let k = 0; k < n; k++) {
    out[k] = ((b[4 * k]! << 24) | (b[4 * k + 1]! << 16) | (b[4 * k + 2]! << 8) | b[4 * k + 3]!) >>> 0;
  }
}

/**
 * Write the address as four 32-bit words of the one address space: IPv4 as
 * ::ffff:a.b.c.d. `out` must hold four words.
 */
export function spaceWords(a: IpAddress, out: Uint32Array): void {
  ipWords(a, out);
  if (a.family === 4) {
    out[3] = out[0]!;
    out[0] = 0;
    out[1] = 0;
    out[2] = 0xffff;
  }
}

/** The client's address as a connection sees it: its text for logs and hashing, and the parsed address. */
export interface ClientAddress {
  /** canonical text ("127.0.0.1" also for a dual-stack listener's ::ffff:127.0.0.1); as given when not an IP */
  text: string;
  /** null when the text is not an IP address: every allow/deny rule then refuses it */
  ip: IpAddress | null;
}

const NO_ADDRESS: ClientAddress = Object.freeze({ text: '', ip: null });
/**
 * Addresses read lately, by text: a client that reconnects is not parsed again
 * (ipaddr.js takes microseconds per IPv6 address). Bounded: emptied when full.
 */
const recent = new Map<string, ClientAddress>();
const RECENT_MAX = 4096;

/**
 * Parse a client address from `socket.remoteAddress` or a PROXY header. The
 * result is shared between connections from the same address: never change it.
 */
export function clientAddress(raw: string | undefined): ClientAddress {
  if (raw === undefined || raw === '') return NO_ADDRESS;
  const seen = recent.get(raw);
  if (seen !== undefined) return seen;
  const ip = parseIp(raw);
  // what parseIp accepts as IPv4 is already in canonical form; sockets and the
  // PROXY parser give IPv6 in RFC 5952 form: only a mapped address is rewritten
  const text = ip !== null && ip.family === 4 && raw.includes(':') ? formatIp(ip) : raw;
  const fresh: ClientAddress = Object.freeze({
    text,
    ip: ip === null ? null : Object.freeze({ family: ip.family, bytes: Object.freeze(ip.bytes) }),
  });
  if (recent.size >= RECENT_MAX) recent.clear();
  recent.set(raw, fresh);
  return fresh;
}
