// Least response time, as nginx's least_time: score = (EWMA connect time + EWMA
// time to first byte) x (open connections + 1) / weight, lowest wins.
import { avoided, type AlgorithmInfo, type Balancer, type BalancerInput, type PickContext } from './interface.js';
import type { Table } from '../../state/table.js';

class LeastResponseTime implements Balancer {
  private readonly slots: Int32Array;
  private readonly weights: Int32Array;
  private readonly table: Table;
  /** Scan start, rotated per pick so ties are shared (see least-connections.ts). */
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
    const table = this.table;
    // A member without samples counts as fast as the fastest measured one (1 ms if
    // none is measured yet): with few connections open it wins and gets measured,
    // but a burst of new connections still spreads by the open-connection factor
    // instead of all landing on the unmeasured member.
    let fastest = Infinity;
    for (let i = 0; i < n; i++) {
      const slot = this.slots[i]!;
      const connect = table.backends.ewmaConnect(slot);
      if (connect > 0) {
        const t = connect + table.backends.ewmaFirstByte(slot);
        if (t < fastest) fastest = t;
      }
    }
    if (fastest === Infinity) fastest = 1;
    const start = this.rotor++ % n;
    if (this.rotor >= 0x40000000) this.rotor = 0;
    const checkAvoid = ctx.avoid.length > 0;
    let best = -1;
    let bestScore = Infinity;
    for (let k = 0; k < n; k++) {
      let i = start + k;
      if (i >= n) i -= n;
      const slot = this.slots[i]!;
      if (checkAvoid && avoided(ctx, slot)) continue;
      const connect = table.backends.ewmaConnect(slot);
      const t = connect > 0 ? connect + table.backends.ewmaFirstByte(slot) : fastest;
      const score = (t * (table.backends.active(slot) + 1)) / this.weights[i]!;
      if (score < bestScore) {
        best = slot;
        bestScore = score;
      }
    }
    return best;
  }
}

export const leastResponseTime: AlgorithmInfo = {
  name: 'least_response_time',
  needsClientAddress: false,
  weighted: true,
  create: (input) => new LeastResponseTime(input),
};
