// Adaptive, main-thread side: every evaluation window it asks the policy what each
// adaptive pool should use, and switches only when the same answer has come
// `confirm` windows in a row and the pool has kept its strategy for `minDwell`
// (hysteresis against flapping), unless the policy says the switch is urgent.
// The choice is written to the pool's slot, where every worker's Adaptive
// balancer reads it. It also counts each backend's new connections over the last
// minute under the current strategy (the poor_distribution alert's window), for
// the policy's check of the spread, and keeps the reason for the strategy in use,
// for `show pools` and the dashboard.
import { ALGORITHMS } from '../../config/schema.js';
import type { Table } from '../../state/table.js';
import { ADAPTIVE_DEFAULT, adaptiveStrategy } from '../../data/balance/adaptive.js';
import { DEFAULT_POLICY, recommend, slowerBackends, type AdaptivePolicy, type AdaptiveSample } from './policy.js';
import type { StrategyName } from '../../data/balance/strategies.js';
import type { AdaptiveTiming } from '../../config/schema.js';
import { DEFAULT_ADAPTIVE } from '../../config/defaults.js';

const DEFAULT_TIMING: AdaptiveTiming = DEFAULT_ADAPTIVE;
/** ms: new connections are counted over this span, as the poor_distribution alert counts them. */
const RECENT_MS = 60_000;

export interface AdaptiveSwitch {
  pool: string;
  from: StrategyName;
  to: StrategyName;
  reason: string;
}

/** One eligible backend as the service sees it. */
export interface AdaptiveBackend {
  name: string;
  weight: number;
  active: number;
  /** fresh connect + first byte estimate, ms; 0 = unknown */
  latencyMs: number;
  /** connections since the backend's slot was claimed (monotonic) */
  connections: number;
}

export interface AdaptivePool {
  name: string;
  slot: number;
  /** eligible backends with their current numbers */
  samples: AdaptiveBackend[];
  /** the pool's own timing (its `adaptive` config); the controller's default otherwise */
  timing?: AdaptiveTiming;
  /** the poor_distribution alert's limit and minimum (alerts.imbalance_cv, imbalance_min_connections) */
  distribution?: { cv: number; minConnections: number };
}

interface Look {
  time: number;
  connections: Map<string, number>;
}

interface PoolState {
  lastEval: number;
  since: number;
  candidate: StrategyName | null;
  streak: number;
  /** why the pool uses its strategy now */
  reason: string;
  /** each backend's connections at the evaluations of the last RECENT_MS, oldest first (since the last switch) */
  looks: Look[];
  /** when each backend was last measurably slower than the fastest */
  slowerAt: Map<string, number>;
}

export class AdaptiveController {
  private readonly state = new Map<string, PoolState>();

  constructor(
    private readonly table: Table,
    private readonly timing: AdaptiveTiming = DEFAULT_TIMING,
    private readonly policy: AdaptivePolicy = DEFAULT_POLICY,
  ) {}

  /** Why the pool uses its strategy now; null for a pool the controller does not know. */
  reason(pool: string): string | null {
    return this.state.get(pool)?.reason ?? null;
  }

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
        st = {
          lastEval: now,
          since: now,
          candidate: null,
          streak: 0,
          reason: `starts on ${ADAPTIVE_DEFAULT}: needs no history`,
          looks: [look(p.samples, now)],
          slowerAt: new Map(),
        };
        this.state.set(p.name, st);
        continue;
      }
      const timing = p.timing ?? this.timing;
      if (now - st.lastEval < timing.window) continue;
      st.lastEval = now;
      const current = adaptiveStrategy(this.table.pools.adaptiveCurrent(p.slot));
      for (const name of slowerBackends(p.samples, this.policy)) st.slowerAt.set(name, now);
      const samples = withRecent(p.samples, st.looks[0]!, st.slowerAt);
      st.looks.push(look(p.samples, now));
      while (st.looks.length > 2 && now - st.looks[1]!.time >= RECENT_MS) st.looks.shift();
      for (const [name, at] of st.slowerAt) if (at < st.looks[0]!.time) st.slowerAt.delete(name);
      const rec = recommend(samples, current, this.policyFor(p));
      if (rec.strategy === current) {
        st.candidate = null;
        st.streak = 0;
        st.reason = rec.reason;
        continue;
      }
      st.streak = rec.strategy === st.candidate ? st.streak + 1 : 1;
      st.candidate = rec.strategy;
      if (!rec.urgent && (st.streak < timing.confirm || now - st.since < timing.minDwell)) continue;
      this.table.pools.setAdaptiveCurrent(p.slot, ALGORITHMS.indexOf(rec.strategy));
      st.since = now;
      st.candidate = null;
      st.streak = 0;
      st.reason = rec.reason;
      // the new strategy's spread is judged on its own connections
      st.looks = [look(p.samples, now)];
      switches.push({ pool: p.name, from: current, to: rec.strategy, reason: rec.reason });
    }
    for (const name of [...this.state.keys()]) if (!seen.has(name)) this.state.delete(name);
    return switches;
  }

  private policyFor(p: AdaptivePool): AdaptivePolicy {
    if (!p.distribution) return this.policy;
    return {
      ...this.policy,
      distributionCv: p.distribution.cv,
      distributionMinConnections: p.distribution.minConnections,
    };
  }
}

function look(backends: readonly AdaptiveBackend[], time: number): Look {
  return { time, connections: new Map(backends.map((b) => [b.name, b.connections])) };
}

/**
 * The policy's samples: each backend's new connections since the oldest look; NaN
 * for one that look did not know, or one measurably slower since (its small share
 * was the strategy working, and stays in the count until the look is older).
 */
function withRecent(
  backends: readonly AdaptiveBackend[],
  oldest: Look,
  slowerAt: ReadonlyMap<string, number>,
): AdaptiveSample[] {
  return backends.map((b) => {
    const slower = slowerAt.get(b.name);
    const then = slower !== undefined && slower >= oldest.time ? undefined : oldest.connections.get(b.name);
    return {
      name: b.name,
      weight: b.weight,
      active: b.active,
      latencyMs: b.latencyMs,
      recent: then === undefined ? NaN : Math.max(0, b.connections - then),
    };
  });
}
