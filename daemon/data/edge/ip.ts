// IP address text -> 32-bit words, without allocating: the ACL and per-source
// limit checks run once per accepted connection, so they parse into a caller's
// scratch array instead of building strings or objects.

/** Address family as parsed: 4, 6, or 0 for "not an IP address". */
export type Family = 0 | 4 | 6;

const COLON = 0x3a;
const DOT = 0x2e;
const PERCENT = 0x25;

/**
 * Parse dotted-quad IPv4 text between `start` and `end` into one uint32.
 * Returns -1 when it is not exactly four decimal octets 0..255 without leading zeros.
 */
function parseV4(s: string, start: number, end: number): number {
  let value = 0;
  let octets = 0;
  let i = start;
  while (i < end) {
    let n = 0;
    let digits = 0;
    const first = i;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      n = n * 10 + (c - 0x30);
      digits++;
      i++;
      if (digits > 3) return -1;
    }
    if (digits === 0 || n > 255) return -1;
    if (digits > 1 && s.charCodeAt(first) === 0x30) return -1;
    value = value * 256 + n;
    octets++;
    if (i === end) break;
    if (s.charCodeAt(i) !== DOT || octets === 4) return -1;
    i++;
    if (i === end) return -1;
  }
  return octets === 4 ? value : -1;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

// scratch for the eight 16-bit groups of an IPv6 address
const groups = new Uint16Array(8);

/**
 * Parse IPv6 text (with "::", an embedded IPv4 tail, and an optional "%zone"
 * that is ignored) into four uint32 words in `out`. Returns false if malformed.
 */
function parseV6(s: string, out: Uint32Array): boolean {
  let end = s.length;
  const pct = s.indexOf('%');
  if (pct === 0) return false;
  if (pct > 0) {
    if (pct === end - 1) return false;
    end = pct;
  }
  let n = 0; // groups written
  let gap = -1; // index in groups where "::" stands
  let i = 0;
  if (end >= 2 && s.charCodeAt(0) === COLON) {
    if (s.charCodeAt(1) !== COLON) return false;
    gap = 0;
    i = 2;
    if (i === end) {
      groups.fill(0);
      return writeGroups(out, 0, 0);
    }
  }
  while (i < end) {
    if (n === 8) return false;
    // an IPv4 tail takes the last two groups
    let j = i;
    let hex = 0;
    let digits = 0;
    let isV4 = false;
    while (j < end) {
      const c = s.charCodeAt(j);
      if (c === COLON) break;
      if (c === DOT) {
        isV4 = true;
        break;
      }
      const d = hexDigit(c);
      if (d < 0) return false;
      hex = (hex << 4) | d;
      digits++;
      if (digits > 4) return false;
      j++;
    }
    if (isV4) {
      if (n > 6) return false;
      const v4 = parseV4(s, i, end);
      if (v4 < 0) return false;
      groups[n++] = v4 >>> 16;
      groups[n++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (digits === 0) return false;
    groups[n++] = hex;
    i = j;
    if (i === end) break;
    // at a colon
    i++;
    if (i === end) return false; // trailing single colon
    if (s.charCodeAt(i) === COLON) {
      if (gap >= 0) return false; // two "::"
      gap = n;
      i++;
    }
  }
  if (gap < 0) {
    if (n !== 8) return false;
    return writeGroups(out, 8, 8);
  }
  if (n === 8) return false; // "::" must stand for at least one group
  return writeGroups(out, n, gap);
}

/** Expand `count` parsed groups with a "::" at `gap` into out (four uint32 words). */
function writeGroups(out: Uint32Array, count: number, gap: number): boolean {
  const zeros = 8 - count;
  let w0 = 0;
  let w1 = 0;
  let w2 = 0;
  let w3 = 0;
  for (let k = 0; k < 8; k++) {
    let g: number;
    if (k < gap) g = groups[k]!;
    else if (k < gap + zeros) g = 0;
    else g = groups[k - zeros]!;
    const word = k >> 1;
    const shift = (k & 1) === 0 ? 16 : 0;
    if (word === 0) w0 |= g << shift;
    else if (word === 1) w1 |= g << shift;
    else if (word === 2) w2 |= g << shift;
    else w3 |= g << shift;
  }
  out[0] = w0 >>> 0;
  out[1] = w1 >>> 0;
  out[2] = w2 >>> 0;
  out[3] = w3 >>> 0;
  return true;
}

/**
 * Parse an IP address. IPv4 and IPv4-mapped IPv6 (`::ffff:1.2.3.4`, as node
 * reports clients of a dual-stack listener) both give family 4 with the address
 * in `out[0]`; other IPv6 gives family 6 with four words in `out`.
 * `out` must hold at least four uint32.
 */
export function parseIp(s: string, out: Uint32Array): Family {
  const len = s.length;
  if (len === 0 || len > 64) return 0;
  let hasColon = false;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c === COLON) {
      hasColon = true;
      break;
    }
    if (c === PERCENT) break;
  }
  if (!hasColon) {
    const v = parseV4(s, 0, len);
    if (v < 0) return 0;
    out[0] = v;
    return 4;
  }
  if (!parseV6(s, out)) return 0;
  if (out[0] === 0 && out[1] === 0 && out[2] === 0xffff) {
    out[0] = out[3]!;
    return 4;
  }
  return 6;
}

/** "a.b.c.d" from a uint32 */
export function formatV4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** Canonical (RFC 5952) text for four uint32 words. */
export function formatV6(w: ArrayLike<number>): string {
  const g: number[] = [];
  for (let k = 0; k < 4; k++) g.push(w[k]! >>> 16, w[k]! & 0xffff);
  // longest run of zero groups (length >= 2) becomes "::"
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}
