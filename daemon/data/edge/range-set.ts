// A set of IP ranges to test client addresses against (allow, deny,
// trusted_proxies). Built from the plan's typed ranges, never from text: each
// range becomes four network words and four mask words of the one address
// space (IPv4 as ::ffff:0:0/96, see ip.ts), so an IPv4 client matches an IPv4
// range and an IPv6 range that covers ::ffff:0:0/96 alike. A test is a scan
// of masked compares into a scratch array: no allocation per connection.
import { spaceWords, type IpAddress, type IpRange } from '../../net/ip.js';

/** Mask for bits [32*k, 32*k+32) of a prefix length over 128 bits. */
function wordMask(prefix: number, k: number): number {
  const bits = prefix - 32 * k;
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}

export class IpRangeSet {
  readonly size: number;
  /** per range: four network words, then four mask words */
  private readonly table: Uint32Array;
  private readonly word = new Uint32Array(4);

  /**
   * @param ranges validated ranges (config/listener-section via ip.ts): host bits
   *   zero, prefix within the family. Throws RangeError on a range that is not,
   *   so that a plan that was not validated fails to apply instead of matching
   *   something else.
   */
  constructor(ranges: readonly IpRange[]) {
    this.size = ranges.length;
    this.table = new Uint32Array(8 * ranges.length);
    const net = new Uint32Array(4);
    ranges.forEach((r, i) => {
      const len = r.family === 4 ? 4 : 16;
      const max = r.family === 4 ? 32 : 128;
      if (
        r.bytes.length !== len ||
        !r.bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 255) ||
        !Number.isInteger(r.prefix) ||
        r.prefix < 0 ||
        r.prefix > max
      ) {
        throw new RangeError(`not a valid IPv${r.family} range: ${JSON.stringify(r)}`);
      }
      spaceWords(r, net);
      const prefix = r.family === 4 ? r.prefix + 96 : r.prefix;
      for (let k = 0; k < 4; k++) {
        const mask = wordMask(prefix, k);
        if ((net[k]! & mask) >>> 0 !== net[k]) {
          throw new RangeError(`IPv${r.family} range ${JSON.stringify(r)} has host bits set`);
        }
        this.table[8 * i + k] = net[k]!;
        this.table[8 * i + 4 + k] = mask;
      }
    });
  }

  /** Whether any range holds `a`; an address that is not an IP (null) is held by none. */
  has(a: IpAddress | null): boolean {
    if (a === null) return false;
    const w = this.word;
    spaceWords(a, w);
    const t = this.table;
    for (let i = 0; i < this.size; i++) {
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
