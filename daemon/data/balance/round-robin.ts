// Round robin over the pool's shared cursor: one Atomics fetch-add per pick, so
// every worker thread draws from the same sequence and the split is exact.
import { avoided, type AlgorithmInfo, type Balancer, type BalancerInput, type PickContext } from './interface.js';
import type { Table } from '../../state/table.js';

class RoundRobin implements Balancer {
  private readonly slots: Int32Array;
  private readonly table: Table;
  private readonly pool: number;

  constructor(input: BalancerInput) {
    this.slots = Int32Array.from(input.members, (m) => m.slot);
    this.table = input.table;
    this.pool = input.pool;
  }

  pick(ctx: PickContext): number {
    const n = this.slots.length;
    if (n === 0) return -1;
    const start = this.table.pools.nextCursor(this.pool) % n;
    if (ctx.avoid.length === 0) return this.slots[start]!;
    for (let k = 0; k < n; k++) {
      const slot = this.slots[(start + k) % n]!;
      if (!avoided(ctx, slot)) return slot;
    }
    return -1;
  }
}

export const roundRobin: AlgorithmInfo = {
  name: 'round_robin',
  needsClientAddress: false,
  weighted: false,
  create: (input) => new RoundRobin(input),
};
