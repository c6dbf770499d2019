// A small seeded generator for the fuzzer: input i of a run is drawn from its
// own stream, seeded by (run seed, i), so any input can be made again from two
// numbers without replaying the ones before it.

/** splitmix32: spreads one 32-bit state into well-mixed words. */
function mix(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** sfc32 (Chris Doty-Humphrey's small fast chaotic generator), 128 bits of state. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    this.a = mix(seed);
    this.b = mix(this.a ^ stream);
    this.c = mix(this.b + 0x6d2b79f5);
    this.d = mix(this.c ^ Math.imul(stream, 0x27d4eb2d));
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** 0 <= n < max (max up to 2^32). */
  int(max: number): number {
    return max <= 1 ? 0 : Math.floor((this.u32() / 0x1_0000_0000) * max);
  }

  /** lo <= n <= hi */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /**
   * A length up to `max`, small ones likely: half of the draws are under 16,
   * most under a few hundred, a few near `max` (edges are where parsers break).
   */
  size(max: number): number {
    const r = this.int(8);
    if (r < 4) return this.int(Math.min(16, max) + 1);
    if (r < 7) return this.int(Math.min(256, max) + 1);
    return this.int(max + 1);
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }

  /** `n` characters drawn from `alphabet`. */
  chars(n: number, alphabet: string): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
}

/** The generator of input `index` in the run seeded `seed`. */
export function inputRng(seed: number, index: number): Rng {
  return new Rng(seed, index);
}
