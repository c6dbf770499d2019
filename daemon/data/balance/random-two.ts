// Power of two choices: draw two members at random (in proportion to weight) and
// keep the one with fewer open connections per unit of weight. Nearly as even as
// least connections, at O(1) per pick, and no herd when several workers pick
// from the same stale counts at once.
import { avoided, type AlgorithmInfo, type Balancer, type BalancerInput, type PickContext } from './interface.js';
import type { Table } from '../../state/table.js';

class RandomTwo implements Balancer {
  private readonly slots: Int32Array;
  private readonly weights: Int32Array;
  /** cumulative weights, for drawing in proportion to weight; null when all are equal */
  private readonly cumulative: Float64Array | null;
  private readonly total: number;
  private readonly table: Table;

  constructor(input: BalancerInput) {
    const n = input.members.length;
    this.slots = Int32Array.from(input.members, (m) => m.slot);
    this.weights = Int32Array.from(input.members, (m) => Math.max(1, m.weight));
    this.table = input.table;
    let total = 0;
    let equal = true;
    const cumulative = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      total += this.weights[i]!;
      cumulative[i] = total;
      if (this.weights[i] !== this.weights[0]) equal = false;
    }
    this.total = total;
    this.cumulative = equal ? null : cumulative;
  }

  pick(ctx: PickContext): number {
    const n = this.slots.length;
    if (n === 0) return -1;
    if (n === 1) return ctx.avoid.length > 0 && avoided(ctx, this.slots[0]!) ? -1 : this.slots[0]!;
    const a = this.draw(ctx.random());
    let b = this.draw(ctx.random());
    if (b === a) b = a + 1 === n ? 0 : a + 1;
    let choice = this.lighter(a, b);
    if (ctx.avoid.length > 0 && avoided(ctx, this.slots[choice]!)) {
      const other = choice === a ? b : a;
      choice = avoided(ctx, this.slots[other]!) ? this.lightestNotAvoided(ctx) : other;
      if (choice < 0) return -1;
    }
    return this.slots[choice]!;
  }

  private draw(r: number): number {
    const n = this.slots.length;
    const cum = this.cumulative;
    if (cum === null) return Math.min(n - 1, Math.floor(r * n));
    const x = r * this.total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The first wins ties, so at equal load the draw's weighting decides the split. */
  private lighter(a: number, b: number): number {
    const la = this.table.backends.active(this.slots[a]!);
    const lb = this.table.backends.active(this.slots[b]!);
    return lb * this.weights[a]! < la * this.weights[b]! ? b : a;
  }

  private lightestNotAvoided(ctx: PickContext): number {
    let best = -1;
    for (let i = 0; i < this.slots.length; i++) {
      if (avoided(ctx, this.slots[i]!)) continue;
      if (best < 0 || this.lighter(best, i) === i) best = i;
    }
    return best;
  }
}

export const randomTwo: AlgorithmInfo = {
  name: 'random_two',
  needsClientAddress: false,
  weighted: true,
  create: (input) => new RandomTwo(input),
};
