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
// Latency is fresh evidence only: each backend's estimate ages (latency-estimates.ts)
// and one with no sample lately is unknown, not remembered as it last was, so a
// strategy cannot be kept by the old numbers of a backend it stopped using.
// least_response_time keeps every estimate fresh with its exploring picks. When
// no backend has a fresh latency (no new connections lately) there is nothing
// to decide on, and the strategy in use stays.
//
// Hysteresis: a strategy in use keeps the pool while its trigger is within a band
// below the threshold, and least_connections (which hides the imbalance it cures)
// keeps it while the pool is loaded. One check overrides the hysteresis: under
// least_response_time, backends that are alike (none measurably slower) must share
// the new connections about evenly; a spread that the poor_distribution alert
// would come near (band x its imbalance_cv) sends the pool to weighted_round_robin
// at once.
import type { StrategyName } from '../../data/balance/strategies.js';

export interface AdaptiveSample {
  name: string;
  weight: number;
  active: number;
  /** fresh connect + first byte estimate, ms; 0 = unknown (never measured, or no sample lately) */
  latencyMs: number;
  /** connections the backend took over the last minute under the current strategy; NaN when not known yet */
  recent: number;
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
  /** the poor_distribution alert's limit (alerts.imbalance_cv; 0 = the check is off) */
  distributionCv: number;
  /** new connections the last minute needs before their spread is judged (alerts.imbalance_min_connections) */
  distributionMinConnections: number;
}

export const DEFAULT_POLICY: AdaptivePolicy = {
  latencySpread: 2,
  latencyFloorMs: 5,
  imbalanceCv: 0.5,
  minActive: 8,
  band: 0.75,
  distributionCv: 0.5,
  distributionMinConnections: 100,
};

export interface Recommendation {
  strategy: StrategyName;
  reason: string;
  /** switch now, without waiting for agreeing windows or the dwell time */
  urgent: boolean;
}

/**
 * Names of the backends measurably slower than the fastest known one: latency at
 * least `latencySpread` x and `latencyFloorMs` above it. Unknown latencies (0 or
 * NaN) are neither. The poor_distribution alert asks the same question.
 */
export function slowerBackends(
  list: readonly { name: string; latencyMs: number }[],
  p: Pick<AdaptivePolicy, 'latencySpread' | 'latencyFloorMs'> = DEFAULT_POLICY,
): Set<string> {
  let fastest = Infinity;
  for (const s of list) if (s.latencyMs > 0 && s.latencyMs < fastest) fastest = s.latencyMs;
  const out = new Set<string>();
  if (fastest === Infinity) return out;
  for (const s of list) {
    if (s.latencyMs >= fastest * p.latencySpread && s.latencyMs - fastest >= p.latencyFloorMs) out.add(s.name);
  }
  return out;
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
    if (!(s.latencyMs > 0)) continue;
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
  const keep = (reason: string): Recommendation => ({ strategy: current, reason, urgent: false });
  if (samples.length < 2) return keep('fewer than 2 eligible backends');
  if (current === 'least_response_time') {
    const poor = unevenAmongAlike(samples, p);
    if (poor) {
      return {
        strategy: 'weighted_round_robin',
        reason: `alike backends unevenly loaded under least_response_time: ${poor}`,
        urgent: true,
      };
    }
  }
  const spread = latencySpread(samples);
  const keepLrt = current === 'least_response_time' ? p.band : 1;
  if (spread.ratio >= p.latencySpread * keepLrt && spread.gapMs >= p.latencyFloorMs * keepLrt) {
    return {
      strategy: 'least_response_time',
      reason: `latency spread x${spread.ratio.toFixed(1)}: ${spread.slow} is slowest, ${spread.fast} fastest`,
      urgent: false,
    };
  }
  const active = samples.reduce((a, s) => a + s.active, 0);
  const cv = loadCv(samples);
  if (current === 'least_connections' && active >= p.minActive) {
    return {
      strategy: 'least_connections',
      reason: `pool loaded (${active} open connections), load cv ${cv.toFixed(2)}`,
      urgent: false,
    };
  }
  if (active >= p.minActive && cv >= p.imbalanceCv) {
    return {
      strategy: 'least_connections',
      reason: `load imbalance: cv ${cv.toFixed(2)} of open connections per weight`,
      urgent: false,
    };
  }
  // no backend with a fresh latency: no new connections lately, so no evidence to change on
  if (!samples.some((s) => s.latencyMs > 0))
    return keep(`no fresh latency (no new connections lately), load cv ${cv.toFixed(2)}`);
  const latency = spread.slow === '' ? 'latency alike' : `latency spread x${spread.ratio.toFixed(1)}`;
  return {
    strategy: 'weighted_round_robin',
    reason: `backends alike: ${latency}, load cv ${cv.toFixed(2)}, ${active} open`,
    urgent: false,
  };
}

/**
 * When the backends known to be alike (a fresh latency, not measurably slower)
 * took the recent new connections unevenly (cv per weight at or above band x
 * distributionCv), a description of it; otherwise null. A backend with no fresh
 * latency is not judged here: the latency spread then counts without it.
 */
function unevenAmongAlike(samples: readonly AdaptiveSample[], p: AdaptivePolicy): string | null {
  if (p.distributionCv <= 0) return null;
  const slower = slowerBackends(samples, p);
  const alike = samples.filter((s) => s.latencyMs > 0 && !slower.has(s.name) && s.recent === s.recent);
  if (alike.length < 2) return null;
  const limit = p.band * p.distributionCv;
  // k even shares of n connections drawn at random have a cv of about sqrt((k-1)/n):
  // judged from n >= 16(k-1)/limit^2 on, the limit is four of those away from chance
  const needed = Math.max(1, p.distributionMinConnections, Math.ceil((16 * (alike.length - 1)) / (limit * limit)));
  const total = alike.reduce((a, s) => a + s.recent, 0);
  if (total < needed) return null;
  const shares = alike.map((s) => s.recent / s.weight);
  const mean = shares.reduce((a, x) => a + x, 0) / shares.length;
  const cv = Math.sqrt(shares.reduce((a, x) => a + (x - mean) ** 2, 0) / shares.length) / mean;
  if (cv < limit) return null;
  return `new connections cv ${cv.toFixed(2)} (${alike.map((s) => `${s.name}=${s.recent}`).join(' ')})`;
}
