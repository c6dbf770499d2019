// Adaptive's decision, main-thread side: given what each eligible backend of a
// pool looks like now, which fixed strategy should serve it, and why. Pure: the
// controller feeds it samples and owns the timing (confirmation, dwell).
//
//   latency spread   the slowest backend answers much slower than the fastest
//                    -> least_response_time (send work where it is done fastest)
//   load imbalance   open connections per unit of weight differ widely (long-lived
//                    connections pile up) -> least_connections
//   neither          -> weighted_round_robin (exact shares, cheapest pick)
//
// Hysteresis: a strategy in use keeps the pool while its trigger is within a band
// below the threshold, and least_connections (which hides the imbalance it cures)
// keeps it while the pool is loaded.
import type { StrategyName } from '../../data/balance/strategies.js';

export interface AdaptiveSample {
  name: string;
  weight: number;
  active: number;
  /** EWMA connect + first byte, ms; 0 = not measured yet */
  latencyMs: number;
}

export interface AdaptivePolicy {
  /** slowest / fastest latency at or above which least_response_time is chosen */
  latencySpread: number;
  /** and the gap must be at least this many ms (1 ms vs 3 ms is noise) */
  latencyFloorMs: number;
  /** coefficient of variation of active/weight at or above which least_connections is chosen */
  imbalanceCv: number;
  /** the pool needs this many open connections before imbalance means anything */
  minActive: number;
  /** a strategy in use keeps the pool until its trigger falls below band x threshold */
  band: number;
}

export const DEFAULT_POLICY: AdaptivePolicy = {
  latencySpread: 2,
  latencyFloorMs: 5,
  imbalanceCv: 0.5,
  minActive: 8,
  band: 0.75,
};

export interface Recommendation {
  strategy: StrategyName;
  reason: string;
}

function latencySpread(samples: readonly AdaptiveSample[]): {
  ratio: number;
  gapMs: number;
  slow: string;
  fast: string;
} {
  let slow: AdaptiveSample | null = null;
  let fast: AdaptiveSample | null = null;
  for (const s of samples) {
    if (s.latencyMs <= 0) continue;
    if (!slow || s.latencyMs > slow.latencyMs) slow = s;
    if (!fast || s.latencyMs < fast.latencyMs) fast = s;
  }
  if (!slow || !fast || slow === fast) return { ratio: 1, gapMs: 0, slow: '', fast: '' };
  return {
    ratio: slow.latencyMs / fast.latencyMs,
    gapMs: slow.latencyMs - fast.latencyMs,
    slow: slow.name,
    fast: fast.name,
  };
}

/** Coefficient of variation of active connections per unit of weight. */
export function loadCv(samples: readonly AdaptiveSample[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  let sum = 0;
  for (const s of samples) sum += s.active / s.weight;
  const mean = sum / n;
  if (mean === 0) return 0;
  let sq = 0;
  for (const s of samples) sq += (s.active / s.weight - mean) ** 2;
  return Math.sqrt(sq / n) / mean;
}

export function recommend(
  samples: readonly AdaptiveSample[],
  current: StrategyName,
  p: AdaptivePolicy = DEFAULT_POLICY,
): Recommendation {
  if (samples.length < 2) return { strategy: current, reason: 'fewer than 2 eligible backends' };
  const spread = latencySpread(samples);
  const keepLrt = current === 'least_response_time' ? p.band : 1;
  if (spread.ratio >= p.latencySpread * keepLrt && spread.gapMs >= p.latencyFloorMs * keepLrt) {
    return {
      strategy: 'least_response_time',
      reason: `latency spread x${spread.ratio.toFixed(1)}: ${spread.slow} is slowest, ${spread.fast} fastest`,
    };
  }
  const active = samples.reduce((a, s) => a + s.active, 0);
  const cv = loadCv(samples);
  if (current === 'least_connections' && active >= p.minActive) {
    return {
      strategy: 'least_connections',
      reason: `pool loaded (${active} open connections), load cv ${cv.toFixed(2)}`,
    };
  }
  if (active >= p.minActive && cv >= p.imbalanceCv) {
    return {
      strategy: 'least_connections',
      reason: `load imbalance: cv ${cv.toFixed(2)} of open connections per weight`,
    };
  }
  return {
    strategy: 'weighted_round_robin',
    reason: `backends alike: latency spread x${spread.ratio.toFixed(1)}, load cv ${cv.toFixed(2)}, ${active} open`,
  };
}
