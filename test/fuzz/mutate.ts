// Byte mutations of a valid input, as coverage-guided fuzzers apply them: bit
// flips, interesting bytes, insertions and deletions, repeated slices, splices
// with another input, cuts, and tokens from the target's dictionary (the
// escapes, separators and keywords its format is made of).
import type { Rng } from './rng.js';

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d];

/** Applies 1..`rounds` random mutations to a copy of `input`, keeping it under `maxLength` bytes. */
export function mutate(
  rng: Rng,
  input: Buffer,
  opts: { maxLength: number; dictionary?: readonly Buffer[]; other?: Buffer; rounds?: number },
): Buffer {
  let b: Buffer = Buffer.from(input);
  const rounds = 1 + rng.int(opts.rounds ?? 4);
  for (let r = 0; r < rounds; r++) b = mutateOnce(rng, b, opts);
  return b.length > opts.maxLength ? b.subarray(0, opts.maxLength) : b;
}

function mutateOnce(rng: Rng, b: Buffer, opts: { dictionary?: readonly Buffer[]; other?: Buffer }): Buffer {
  const at = (): number => rng.int(b.length + 1);
  switch (rng.int(10)) {
    case 0: {
      // flip a bit
      if (b.length === 0) return b;
      const i = rng.int(b.length);
      b[i] = b[i]! ^ (1 << rng.int(8));
      return b;
    }
    case 1: {
      // an interesting byte in place of one
      if (b.length === 0) return b;
      b[rng.int(b.length)] = rng.pick(INTERESTING);
      return b;
    }
    case 2: {
      // a random byte, or one off by a little (lengths and counts)
      if (b.length === 0) return b;
      const i = rng.int(b.length);
      b[i] = rng.chance(0.5) ? rng.u32() & 0xff : (b[i]! + rng.range(-2, 2)) & 0xff;
      return b;
    }
    case 3: {
      // insert random bytes
      const i = at();
      return Buffer.concat([b.subarray(0, i), rng.bytes(1 + rng.int(8)), b.subarray(i)]);
    }
    case 4: {
      // delete a range
      if (b.length === 0) return b;
      const i = rng.int(b.length);
      const n = 1 + rng.int(Math.min(16, b.length - i));
      return Buffer.concat([b.subarray(0, i), b.subarray(i + n)]);
    }
    case 5: {
      // repeat a slice (a field twice, a long run)
      if (b.length === 0) return b;
      const i = rng.int(b.length);
      const n = 1 + rng.int(Math.min(32, b.length - i));
      const piece = b.subarray(i, i + n);
      const times = rng.chance(0.1) ? 2 + rng.int(200) : 2;
      return Buffer.concat([b.subarray(0, i), ...Array.from({ length: times }, () => piece), b.subarray(i + n)]);
    }
    case 6: {
      // cut the end off
      return b.subarray(0, rng.int(b.length + 1));
    }
    case 7: {
      // splice with another input
      if (!opts.other || opts.other.length === 0) return b;
      const i = at();
      const j = rng.int(opts.other.length);
      return Buffer.concat([b.subarray(0, i), opts.other.subarray(j, j + 1 + rng.int(64))]);
    }
    default: {
      // a dictionary token, inserted or written over
      const dict = opts.dictionary;
      if (!dict || dict.length === 0) return b;
      const token = rng.pick(dict);
      const i = at();
      const over = rng.chance(0.5) ? Math.min(token.length, b.length - i) : 0;
      return Buffer.concat([b.subarray(0, i), token, b.subarray(i + over)]);
    }
  }
}

/** Dictionary tokens from strings (latin1: one byte per character). */
export function tokens(list: readonly string[]): Buffer[] {
  return list.map((t) => Buffer.from(t, 'latin1'));
}
