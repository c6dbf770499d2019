// Smooth weighted round robin (nginx's), made global and lock-free: the smooth
// sequence is computed once per build and every worker indexes it with the pool's
// shared cursor, so the whole daemon follows one sequence, as one nginx worker would.
// A retry (ctx.retry) reads the cursor without taking a turn, as round-robin.ts:
// the sequence, and so the weighted split of new connections, is the new
// connections' alone (nginx moves its smooth weights on a retry as well; here a
// retry leaves them, so a failing backend does not shift the clients after it).
import {
  avoided,
  type AlgorithmInfo,
  type Balancer,
  type BalancerInput,
  type Member,
  type PickContext,
} from './interface.js';
import type { Table } from '../../state/table.js';

/** Longest sequence kept: 256 KiB per pool and worker at most. */
const WRR_MAX_SEQUENCE = 65_536;
/** Bound on build work (sequence length x members) so a rebuild stays in milliseconds. */
const WRR_MAX_WORK = 1 << 24;

/**
 * The smooth sequence of member indexes for these weights: each step every member
 * gains its weight, the richest is picked and pays the total. Weights are first
 * divided by their gcd, then scaled down (largest remainder, each at least 1) when
 * the sum would make the sequence or its build too long.
 */
export function smoothSequence(weights: readonly number[]): Int32Array {
  const n = weights.length;
  if (n === 0) return new Int32Array(0);
  const w = scaledWeights(weights, Math.min(WRR_MAX_SEQUENCE, Math.max(n, Math.floor(WRR_MAX_WORK / n))));
  let total = 0;
  for (const x of w) total += x;
  const seq = new Int32Array(total);
  const current = new Float64Array(n);
  for (let step = 0; step < total; step++) {
    let best = 0;
    let bestValue = -Infinity;
    for (let i = 0; i < n; i++) {
      const c = (current[i]! += w[i]!);
      if (c > bestValue) {
        bestValue = c;
        best = i;
      }
    }
    current[best]! -= total;
    seq[step] = best;
  }
  return seq;
}

/** Weights reduced by their gcd and, if their sum exceeds `cap`, scaled to sum to about `cap`. */
function scaledWeights(weights: readonly number[], cap: number): number[] {
  let g = 0;
  for (const x of weights) g = gcd(g, Math.max(1, Math.round(x)));
  const w = weights.map((x) => Math.max(1, Math.round(x)) / g);
  const sum = w.reduce((a, b) => a + b, 0);
  if (sum <= cap) return w;
  // Largest remainder over the room left once every member has its 1.
  const room = cap - w.length;
  const exact = w.map((x) => ((x - 1) * room) / (sum - w.length));
  const out = exact.map((x) => 1 + Math.floor(x));
  let left = cap - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0 && k < order.length; k++, left--) out[order[k]![1]]! += 1;
  return out;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

class WeightedRoundRobin implements Balancer {
  private readonly seq: Int32Array;
  private readonly slots: Int32Array;
  private readonly table: Table;
  private readonly pool: number;

  constructor(input: BalancerInput) {
    this.slots = Int32Array.from(input.members, (m: Member) => m.slot);
    this.seq = smoothSequence(input.members.map((m) => m.weight));
    this.table = input.table;
    this.pool = input.pool;
  }

  pick(ctx: PickContext): number {
    const len = this.seq.length;
    if (len === 0) return -1;
    const pools = this.table.pools;
    const at = (ctx.retry ? pools.peekCursor(this.pool) : pools.nextCursor(this.pool)) % len;
    const first = this.slots[this.seq[at]!]!;
    if (ctx.avoid.length === 0 || !avoided(ctx, first)) return first;
    // A retry walks on along the sequence, which keeps the weights among the rest.
    for (let k = 1; k < len; k++) {
      const slot = this.slots[this.seq[(at + k) % len]!]!;
      if (!avoided(ctx, slot)) return slot;
    }
    return -1;
  }
}

export const weightedRoundRobin: AlgorithmInfo = {
  name: 'weighted_round_robin',
  needsClientAddress: false,
  weighted: true,
  create: (input) => new WeightedRoundRobin(input),
};
