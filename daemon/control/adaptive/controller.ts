// Adaptive, main-thread side: every evaluation window it asks the policy what each
// adaptive pool should use, and switches only when the same answer has come
// `confirm` windows in a row and the pool has kept its strategy for `minDwell`
// (hysteresis against flapping). The choice is written to the pool's slot, where
// every worker's Adaptive balancer reads it.
import { ALGORITHMS } from '../../config/schema.js';
import type { Table } from '../../state/table.js';
import { ADAPTIVE_DEFAULT, adaptiveStrategy } from '../../data/balance/adaptive.js';
import { DEFAULT_POLICY, recommend, type AdaptivePolicy, type AdaptiveSample } from './policy.js';
import type { StrategyName } from '../../data/balance/strategies.js';
import type { AdaptiveTiming } from '../../config/schema.js';
import { DEFAULT_ADAPTIVE } from '../../config/defaults.js';

const DEFAULT_TIMING: AdaptiveTiming = DEFAULT_ADAPTIVE;

export interface AdaptiveSwitch {
  pool: string;
  from: StrategyName;
  to: StrategyName;
  reason: string;
}

export interface AdaptivePool {
  name: string;
  slot: number;
  /** eligible backends with their current numbers */
  samples: AdaptiveSample[];
  /** the pool's own timing (its `adaptive` config); the controller's default otherwise */
  timing?: AdaptiveTiming;
}

interface PoolState {
  lastEval: number;
  since: number;
  candidate: StrategyName | null;
  streak: number;
}

export class AdaptiveController {
  private readonly state = new Map<string, PoolState>();

  constructor(
    private readonly table: Table,
    private readonly timing: AdaptiveTiming = DEFAULT_TIMING,
    private readonly policy: AdaptivePolicy = DEFAULT_POLICY,
  ) {}

  /** Start a pool's evaluation over (its config changed): it begins again on the default strategy. */
  forget(pool: string): void {
    this.state.delete(pool);
  }

  /** Evaluate the adaptive pools given; forget the others. Returns the switches made. */
  evaluate(pools: readonly AdaptivePool[], now: number): AdaptiveSwitch[] {
    const switches: AdaptiveSwitch[] = [];
    const seen = new Set<string>();
    for (const p of pools) {
      seen.add(p.name);
      let st = this.state.get(p.name);
      if (!st) {
        // a pool new to adaptive starts on the default, decided now
        this.table.pools.setAdaptiveCurrent(p.slot, ALGORITHMS.indexOf(ADAPTIVE_DEFAULT));
        st = { lastEval: now, since: now, candidate: null, streak: 0 };
        this.state.set(p.name, st);
        continue;
      }
      const timing = p.timing ?? this.timing;
      if (now - st.lastEval < timing.window) continue;
      st.lastEval = now;
      const current = adaptiveStrategy(this.table.pools.adaptiveCurrent(p.slot));
      const rec = recommend(p.samples, current, this.policy);
      if (rec.strategy === current) {
        st.candidate = null;
        st.streak = 0;
        continue;
      }
      st.streak = rec.strategy === st.candidate ? st.streak + 1 : 1;
      st.candidate = rec.strategy;
      if (st.streak < timing.confirm || now - st.since < timing.minDwell) continue;
      this.table.pools.setAdaptiveCurrent(p.slot, ALGORITHMS.indexOf(rec.strategy));
      st.since = now;
      st.candidate = null;
      st.streak = 0;
      switches.push({ pool: p.name, from: current, to: rec.strategy, reason: rec.reason });
    }
    for (const name of [...this.state.keys()]) if (!seen.has(name)) this.state.delete(name);
    return switches;
  }
}
