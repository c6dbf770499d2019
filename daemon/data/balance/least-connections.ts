// Weighted least connections: the member with the fewest open connections per
// unit of weight (HAProxy's leastconn, nginx's least_conn). A connection waiting
// in the pool's queue has no backend yet, so it weighs on no member.
import { avoided, type AlgorithmInfo, type Balancer, type BalancerInput, type PickContext } from './interface.js';
import type { Table } from '../../state/table.js';

class LeastConnections implements Balancer {
  private readonly slots: Int32Array;
  private readonly weights: Int32Array;
  private readonly table: Table;
  /**
   * Where the scan starts, advanced by every new connection's pick so equal
   * members share ties evenly; a retry (ctx.retry) scans from where the next
   * new connection will and leaves it, or a failing member with the fewest
   * connections would win every new connection's tie. Local (no shared
   * fetch-add on this path); seeded from the pool cursor so two workers built
   * at the same moment do not start on the same member.
   */
  private rotor: number;

  constructor(input: BalancerInput) {
    this.slots = Int32Array.from(input.members, (m) => m.slot);
    this.weights = Int32Array.from(input.members, (m) => Math.max(1, m.weight));
    this.table = input.table;
    this.rotor = input.members.length > 1 ? input.table.pools.nextCursor(input.pool) : 0;
  }

  pick(ctx: PickContext): number {
    const n = this.slots.length;
    if (n === 0) return -1;
    const start = this.rotor % n;
    if (!ctx.retry && ++this.rotor >= 0x40000000) this.rotor = 0;
    const table = this.table;
    const checkAvoid = ctx.avoid.length > 0;
    let best = -1;
    // best load as a fraction bestLoad / bestWeight, compared by cross-multiplying
    let bestLoad = 0;
    let bestWeight = 1;
    for (let k = 0; k < n; k++) {
      let i = start + k;
      if (i >= n) i -= n;
      const slot = this.slots[i]!;
      if (checkAvoid && avoided(ctx, slot)) continue;
      const load = table.backends.active(slot) + 1;
      const w = this.weights[i]!;
      if (best < 0 || load * bestWeight < bestLoad * w) {
        best = slot;
        bestLoad = load;
        bestWeight = w;
      }
    }
    return best;
  }
}

export const leastConnections: AlgorithmInfo = {
  name: 'least_connections',
  needsClientAddress: false,
  weighted: true,
  create: (input) => new LeastConnections(input),
};
