// Round robin over the pool's shared cursor: one Atomics fetch-add per new
// connection's pick, so every worker thread draws from the same sequence and the
// split of new connections is exact. A retry (ctx.retry) reads the cursor without
// taking a turn and walks on to the first member it has not tried: the member the
// next new connection will start on, or the one after. A turn taken by a retry
// would move every later client one member on: with one failing backend of two,
// each client's retry would take the healthy backend's turn and every new client
// would start on the failing one.
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
    const pools = this.table.pools;
    const start = (ctx.retry ? pools.peekCursor(this.pool) : pools.nextCursor(this.pool)) % n;
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
