// A real state table with one pool and N backends, for algorithm tests: picks go
// through the same accessors the workers use, without threads or sockets.
import { Table } from '../../daemon/state/table.js';
import { OpState } from '../../daemon/state/names.js';
import { ALGORITHM_INFO, algorithmId } from '../../daemon/data/balance/index.js';
import type { AlgorithmName } from '../../daemon/config/schema.js';
import type { Balancer, Member, PickContext } from '../../daemon/data/balance/interface.js';

export interface Bench {
  table: Table;
  members: Member[];
  balancer: Balancer;
  /** picks `n` times; returns counts by member key */
  run(n: number, ctx?: Partial<PickContext>): Map<string, number>;
  keyOf(slot: number): string;
}

/** Deterministic [0,1) numbers (mulberry32), so random algorithms test the same way every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function ctx(over: Partial<PickContext> = {}): PickContext {
  return { clientAddress: '127.0.0.1', avoid: [], now: 0, random: Math.random, retry: false, ...over };
}

export function bench(algorithm: AlgorithmName, weights: number[], names?: string[]): Bench {
  const table = new Table({ workers: 1, listeners: 1, pools: 1, backends: Math.max(1, weights.length) });
  table.pools.init(0, algorithmId(algorithm));
  const members: Member[] = weights.map((weight, slot) => {
    table.backends.init(slot, { pool: 0, weight, maxConnections: 0, backup: false, generation: 1, op: OpState.Up }, 0);
    return { slot, weight, key: `web/${names?.[slot] ?? `b${slot + 1}`}` };
  });
  const balancer = ALGORITHM_INFO[algorithm].create({ members, table, pool: 0 });
  const keyOf = (slot: number): string => members.find((m) => m.slot === slot)?.key ?? `none(${slot})`;
  return {
    table,
    members,
    balancer,
    keyOf,
    run(n, over = {}) {
      const counts = new Map<string, number>(members.map((m) => [m.key, 0]));
      const c = ctx(over);
      for (let i = 0; i < n; i++) {
        const k = keyOf(balancer.pick(c));
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      return counts;
    },
  };
}
