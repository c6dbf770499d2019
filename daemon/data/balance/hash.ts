// 32-bit hashes for the balancers. Client addresses are hashed per pick, so that
// path reads char codes and allocates nothing; member keys are hashed once per
// build, as UTF-8 bytes, so every instance gets the same numbers for the same key.

const V4_MAPPED = '::ffff:';

/** murmur3's final mix: spreads FNV's weak low bits over the whole word. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * FNV-1a over the string's UTF-16 code units (addresses are ASCII, so the same as
 * over bytes), then fmix32. An IPv4-mapped IPv6 address ("::ffff:10.0.0.1") hashes
 * as its IPv4 form, so a dual-stack listener and an IPv4 one agree on a client.
 */
export function hashAddress(address: string): number {
  let start = 0;
  if (
    address.length > V4_MAPPED.length &&
    address.startsWith(V4_MAPPED) &&
    address.indexOf('.', V4_MAPPED.length) > 0
  ) {
    start = V4_MAPPED.length;
  }
  let h = 0x811c9dc5;
  for (let i = start; i < address.length; i++) {
    h ^= address.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** murmur3_32 (x86) over the UTF-8 bytes of `text`. */
export function murmur3(text: string, seed: number): number {
  const data = Buffer.from(text, 'utf8');
  const n = data.length;
  const blocks = n & ~3;
  let h = seed >>> 0;
  for (let i = 0; i < blocks; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rem = n & 3;
  if (rem > 0) {
    let k = data[blocks]!;
    if (rem >= 2) k ^= data[blocks + 1]! << 8;
    if (rem === 3) k ^= data[blocks + 2]! << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n;
  return fmix32(h);
}
