// CIDR ranges (IPv4 and IPv6) and a precompiled list to match client addresses
// against. Matching parses the address into a scratch array and compares masked
// words: no allocation per check.
import { formatV4, formatV6, parseIp, type Family } from './ip.js';

export interface Cidr {
  family: 4 | 6;
  /** network address, already masked: one word for IPv4, four for IPv6 */
  words: number[];
  prefix: number;
  /** canonical text, e.g. "10.0.0.0/8", "2001:db8::/32" */
  text: string;
}

type CidrParseResult = { ok: true; cidr: Cidr } | { ok: false; reason: string };

const scratch = new Uint32Array(4);

/** Mask for bits [32*k, 32*k+32) of a prefix length. */
function wordMask(prefix: number, k: number): number {
  const bits = prefix - 32 * k;
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * Parse "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128).
 * An IPv4-mapped IPv6 range ("::ffff:10.0.0.0/104") becomes the IPv4 range it
 * denotes, so it matches IPv4 clients. Host bits set below the prefix are an
 * error, as they usually mean a typo ("10.0.0.1/8").
 */
function parseCidr(text: string): CidrParseResult {
  const t = text.trim();
  const slash = t.indexOf('/');
  const addr = slash < 0 ? t : t.slice(0, slash);
  if (addr.includes('%')) return { ok: false, reason: `"${text}": a zone index is not allowed in a CIDR` };
  const fam: Family = parseIp(addr, scratch);
  if (fam === 0) return { ok: false, reason: `"${text}": not an IPv4 or IPv6 address` };
  const isMapped = fam === 4 && addr.includes(':');
  const max = fam === 4 && !isMapped ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = t.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > max) {
      return { ok: false, reason: `"${text}": prefix length must be 0..${max}` };
    }
    prefix = Number(p);
  }
  if (isMapped) {
    if (prefix < 96) return { ok: false, reason: `"${text}": an IPv4-mapped range needs a prefix of at least 96` };
    prefix -= 96;
  }
  const n = fam === 4 ? 1 : 4;
  const words: number[] = [];
  for (let k = 0; k < n; k++) {
    const w = scratch[k]!;
    const masked = (w & wordMask(prefix, k)) >>> 0;
    if (masked !== w)
      return {
        ok: false,
        reason: `"${text}": host bits are set below the /${slash < 0 ? max : prefix + (isMapped ? 96 : 0)} prefix`,
      };
    words.push(masked);
  }
  const base = fam === 4 ? formatV4(words[0]!) : formatV6(words);
  return { ok: true, cidr: { family: fam, words, prefix, text: `${base}/${prefix}` } };
}

/**
 * A compiled list of ranges. `matches(address)` answers whether any range
 * contains the address; an address that is not an IP matches nothing.
 */
export class CidrList {
  readonly ranges: readonly Cidr[];
  /** per IPv4 range: network, mask */
  private readonly v4: Uint32Array;
  /** per IPv6 range: 4 network words, 4 mask words */
  private readonly v6: Uint32Array;
  private readonly n4: number;
  private readonly n6: number;
  private readonly word = new Uint32Array(4);

  constructor(ranges: readonly Cidr[]) {
    this.ranges = ranges;
    const four = ranges.filter((r) => r.family === 4);
    const six = ranges.filter((r) => r.family === 6);
    this.n4 = four.length;
    this.n6 = six.length;
    this.v4 = new Uint32Array(2 * four.length);
    four.forEach((r, i) => {
      this.v4[2 * i] = r.words[0]!;
      this.v4[2 * i + 1] = wordMask(r.prefix, 0);
    });
    this.v6 = new Uint32Array(8 * six.length);
    six.forEach((r, i) => {
      for (let k = 0; k < 4; k++) {
        this.v6[8 * i + k] = r.words[k]!;
        this.v6[8 * i + 4 + k] = wordMask(r.prefix, k);
      }
    });
  }

  /** Parse every text; throws nothing, returns the problems instead. */
  static parse(texts: readonly string[]): { list: CidrList; errors: string[] } {
    const ranges: Cidr[] = [];
    const errors: string[] = [];
    for (const t of texts) {
      const r = parseCidr(t);
      if (r.ok) ranges.push(r.cidr);
      else errors.push(r.reason);
    }
    return { list: new CidrList(ranges), errors };
  }

  get size(): number {
    return this.n4 + this.n6;
  }

  matches(address: string): boolean {
    const fam = parseIp(address, this.word);
    if (fam === 4) return this.matchV4(this.word[0]!);
    if (fam === 6) return this.matchV6(this.word);
    return false;
  }

  /** Match an already parsed IPv4 address (a uint32). */
  matchV4(a: number): boolean {
    const t = this.v4;
    for (let i = 0; i < this.n4; i++) {
      if ((a & t[2 * i + 1]!) >>> 0 === t[2 * i]) return true;
    }
    return false;
  }

  /** Match an already parsed IPv6 address (four uint32 words). */
  matchV6(w: Uint32Array): boolean {
    const t = this.v6;
    for (let i = 0; i < this.n6; i++) {
      const b = 8 * i;
      if (
        (w[0]! & t[b + 4]!) >>> 0 === t[b] &&
        (w[1]! & t[b + 5]!) >>> 0 === t[b + 1] &&
        (w[2]! & t[b + 6]!) >>> 0 === t[b + 2] &&
        (w[3]! & t[b + 7]!) >>> 0 === t[b + 3]
      ) {
        return true;
      }
    }
    return false;
  }
}
