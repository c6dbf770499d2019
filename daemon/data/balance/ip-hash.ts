// Consistent client-address hashing with a Maglev lookup table (Eisenbud et al.,
// NSDI 2016): removing one of N backends moves about 1/N of the clients, and two
// instances with the same members (by key, in any order) build identical tables.
import {
  avoided,
  type AlgorithmInfo,
  type Balancer,
  type BalancerInput,
  type Member,
  type PickContext,
} from './interface.js';
import { hashAddress, murmur3 } from './hash.js';

/**
 * Table sizes: primes, the smallest with at least 100 entries per member is used.
 * Fixed steps rather than "next prime above 100 x N" so that adding a member only
 * changes the size (and remaps everyone) at these few boundaries.
 */
const MAGLEV_SIZES = [65_537, 131_071, 262_147, 524_287, 1_048_573] as const;

const SEED_OFFSET = 0x2a6f1d3b;
const SEED_SKIP = 0x5bd1e995;

function maglevSize(members: number): number {
  for (const m of MAGLEV_SIZES) if (members * 100 <= m) return m;
  return MAGLEV_SIZES[MAGLEV_SIZES.length - 1]!;
}

/**
 * Build the lookup table: entry -> backend slot. Members are taken in key order,
 * and each one's preference list (offset, skip) comes from two hashes of its key.
 * Weights: in every round a member gains its weight in credit and claims an entry
 * each time its credit reaches the largest weight, so entries are shared in
 * proportion to weight and the heaviest member claims one per round.
 */
export function buildMaglev(members: readonly Member[], size = maglevSize(members.length)): Int32Array {
  const lookup = new Int32Array(size).fill(-1);
  const n = members.length;
  if (n === 0) return lookup;
  const sorted = members.slice().sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.slot - b.slot));
  const slot = new Int32Array(n);
  const weight = new Float64Array(n);
  const next = new Float64Array(n); // next position of each member's preference list
  const skip = new Float64Array(n);
  const credit = new Float64Array(n);
  let maxWeight = 1;
  for (let i = 0; i < n; i++) {
    const m = sorted[i]!;
    slot[i] = m.slot;
    weight[i] = Math.max(1, m.weight);
    if (weight[i]! > maxWeight) maxWeight = weight[i]!;
    next[i] = murmur3(m.key, SEED_OFFSET) % size;
    skip[i] = (murmur3(m.key, SEED_SKIP) % (size - 1)) + 1;
  }
  let filled = 0;
  for (;;) {
    for (let i = 0; i < n; i++) {
      credit[i]! += weight[i]!;
      if (credit[i]! < maxWeight) continue;
      credit[i]! -= maxWeight;
      let c = next[i]!;
      const s = skip[i]!;
      while (lookup[c]! >= 0) {
        c += s;
        if (c >= size) c -= size;
      }
      lookup[c] = slot[i]!;
      c += s;
      next[i] = c >= size ? c - size : c;
      if (++filled === size) return lookup;
    }
  }
}

class IpHash implements Balancer {
  private readonly lookup: Int32Array;
  private readonly slots: Int32Array;

  constructor(input: BalancerInput) {
    this.lookup = buildMaglev(input.members);
    this.slots = Int32Array.from(input.members, (m) => m.slot);
  }

  pick(ctx: PickContext): number {
    if (this.slots.length === 0) return -1;
    const lookup = this.lookup;
    const size = lookup.length;
    let at = hashAddress(ctx.clientAddress) % size;
    const first = lookup[at]!;
    if (ctx.avoid.length === 0 || !avoided(ctx, first)) return first;
    if (!this.anyLeft(ctx)) return -1;
    // Walk on to the next entry naming a member not to avoid: the same client
    // retries on the same second choice, and retries of different clients spread
    // over the other members in proportion to their weights.
    for (let k = 1; k < size; k++) {
      if (++at === size) at = 0;
      const slot = lookup[at]!;
      if (slot >= 0 && !avoided(ctx, slot)) return slot;
    }
    return -1;
  }

  private anyLeft(ctx: PickContext): boolean {
    for (let i = 0; i < this.slots.length; i++) if (!avoided(ctx, this.slots[i]!)) return true;
    return false;
  }
}

export const ipHash: AlgorithmInfo = {
  name: 'ip_hash',
  needsClientAddress: true,
  weighted: true,
  create: (input) => new IpHash(input),
};
