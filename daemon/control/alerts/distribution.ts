// poor_distribution: load spread against weights, per pool. For each eligible
// backend (up or starting, ready, primary) the load is divided by its effective
// weight; the coefficient of variation (stddev / mean) of those shares over the
// last minute is compared with imbalance_cv. Two loads are judged:
//   - new connections in the window (the algorithm not following the weights),
//     once the pool had imbalance_min_connections of them;
//   - concurrent connections averaged over the window (one backend hogging long
//     connections), once the pool averages MIN_ACTIVE_PER_BACKEND per backend.
// A backend measurably slower than the others over the last 30 s (its p95 connect
// + first byte at least 2x the fastest's and 5 ms more: the adaptive policy's
// test, daemon/control/adaptive/policy.ts) is left out of both: getting less from
// least_connections, least_response_time or adaptive is the point, not a fault.
import type { AlertsConfig } from '../../config/schema.js';
import type { AlertInputs, BackendInput } from './inputs.js';
import { round, type Condition } from './condition.js';
import { latencyP95Ms } from './latency.js';
import { slowerBackends } from '../adaptive/policy.js';

const DISTRIBUTION_WINDOW_MS = 60_000;
const MIN_ACTIVE_PER_BACKEND = 2;

interface Sample {
  time: number;
  /** backend key -> connections total */
  connections: Map<string, number>;
  /** backend key -> active connections */
  active: Map<string, number>;
}

export class DistributionTracker {
  private readonly pools = new Map<string, Sample[]>();

  evaluate(inputs: AlertInputs, cfg: AlertsConfig, now: number, out: Condition[]): void {
    const byPool = new Map<string, BackendInput[]>();
    for (const b of inputs.backends) {
      if (b.removed || b.backup || b.admin !== 'ready' || b.op === 'down') continue;
      let list = byPool.get(b.pool);
      if (!list) byPool.set(b.pool, (list = []));
      list.push(b);
    }
    for (const pool of [...this.pools.keys()]) if (!byPool.has(pool)) this.pools.delete(pool);
    for (const [pool, backends] of byPool) {
      let samples = this.pools.get(pool);
      if (!samples) this.pools.set(pool, (samples = []));
      samples.push({
        time: now,
        connections: new Map(backends.map((b) => [b.key, b.connections])),
        active: new Map(backends.map((b) => [b.key, b.active])),
      });
      while (samples.length > 2 && now - samples[1]!.time >= DISTRIBUTION_WINDOW_MS) samples.shift();
      if (cfg.imbalanceCv <= 0 || backends.length < 2 || samples.length < 2) continue;
      const found = judge(pool, backends, samples, cfg);
      if (found) out.push(found);
    }
  }
}

function judge(pool: string, all: BackendInput[], samples: Sample[], cfg: AlertsConfig): Condition | null {
  const slower = slowerBackends(
    all.map((b) => ({ name: b.key, latencyMs: (b.latency && latencyP95Ms(b.latency)) ?? 0 })),
  );
  const backends = all.filter((b) => !slower.has(b.key));
  if (backends.length < 2) return null;
  const first = samples[0]!;
  const weight = (b: BackendInput): number => Math.max(1, b.effectiveWeight);
  // new connections in the window, only for backends present from its start
  const fresh = backends.filter((b) => first.connections.has(b.key));
  const started = fresh.map((b) => Math.max(0, b.connections - first.connections.get(b.key)!));
  const startedTotal = started.reduce((a, b) => a + b, 0);
  const candidates: { basis: string; cv: number; loads: number[]; list: BackendInput[] }[] = [];
  if (fresh.length >= 2 && startedTotal >= Math.max(1, cfg.imbalanceMinConnections)) {
    candidates.push({
      basis: 'new connections',
      cv: cv(started.map((n, i) => n / weight(fresh[i]!))),
      loads: started,
      list: fresh,
    });
  }
  const meanActive = backends.map((b) => {
    let sum = 0;
    for (const s of samples) sum += s.active.get(b.key) ?? 0;
    return sum / samples.length;
  });
  const activeTotal = meanActive.reduce((a, b) => a + b, 0);
  if (activeTotal >= MIN_ACTIVE_PER_BACKEND * backends.length) {
    candidates.push({
      basis: 'concurrent connections',
      cv: cv(meanActive.map((n, i) => n / weight(backends[i]!))),
      loads: meanActive,
      list: backends,
    });
  }
  let worst: (typeof candidates)[number] | null = null;
  for (const c of candidates) if (c.cv > cfg.imbalanceCv && (!worst || c.cv > worst.cv)) worst = c;
  if (!worst) return null;
  let detail = worst.list.map((b, i) => `${b.name}=${round(worst.loads[i]!)}/w${weight(b)}`).join(' ');
  const excused = all.filter((b) => slower.has(b.key)).map((b) => b.name);
  if (excused.length > 0) detail += ` (slower, not judged: ${excused.join(' ')})`;
  return {
    name: 'poor_distribution',
    subject: pool,
    severity: 'warning',
    value: round(worst.cv, 2),
    threshold: cfg.imbalanceCv,
    message: `pool ${pool}: ${worst.basis} per weight unbalanced (cv ${round(worst.cv, 2)} > ${cfg.imbalanceCv}): ${detail}`,
  };
}

/** Coefficient of variation (population stddev / mean); 0 for no load. */
export function cv(xs: number[]): number {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (mean <= 0) return 0;
  const variance = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length;
  return Math.sqrt(variance) / mean;
}
