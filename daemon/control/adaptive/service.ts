// Runs the adaptive controller once a tick over the pools whose algorithm (from the
// config or set at run time) is adaptive; logs and records every switch with its
// reason as an `adaptive` event. The latency it decides on is fresh: each pool's
// backends have estimates that age (latency-estimates.ts, read on this thread's
// clock), and one with no sample for FRESH_WINDOWS windows counts as unknown.
// Its share of a reload: the pools and their timing come from the diff's new
// config (new timing applies from the next window), as do the poor_distribution
// alert's limits the policy keeps to, and a pool that is new, gone or given
// another algorithm starts its evaluation over.
import { AdaptiveController } from './controller.js';
import type { AdaptiveBackend, AdaptivePool } from './controller.js';
import { algorithmId } from '../../data/balance/index.js';
import { LatencyEstimates } from '../../data/balance/latency-estimates.js';
import type { Topology } from '../topology/topology.js';
import type { EventLog } from '../events.js';
import { touches, type ConfigDiff } from '../topology/diff.js';
import type { AdaptiveTiming } from '../../config/schema.js';
import { log } from '../../log.js';
import type { Table } from '../../state/table.js';

const ADAPTIVE = algorithmId('adaptive');
/** A latency estimate with no sample for this many windows (and at least FRESH_MIN_MS) is unknown. */
const FRESH_WINDOWS = 2;
const FRESH_MIN_MS = 3000;

interface PoolLatency {
  /** backend keys, in the order of `estimates.slots` */
  keys: string[];
  estimates: LatencyEstimates;
}

export class AdaptiveService {
  private readonly controller: AdaptiveController;
  /** the config's pools: name -> their adaptive timing */
  private pools = new Map<string, AdaptiveTiming>();
  /** the poor_distribution alert's limits (alerts.imbalance_cv, imbalance_min_connections) */
  private distribution: AdaptivePool['distribution'];
  private readonly latency = new Map<string, PoolLatency>();

  constructor(
    private readonly table: Table,
    private readonly topology: Topology,
    private readonly events: EventLog,
    controller?: AdaptiveController,
  ) {
    this.controller = controller ?? new AdaptiveController(table);
  }

  apply(d: ConfigDiff): void {
    this.pools = new Map(d.next.pools.map((p) => [p.name, p.adaptive]));
    this.distribution = { cv: d.next.alerts.imbalanceCv, minConnections: d.next.alerts.imbalanceMinConnections };
    for (const p of d.pools.removed) this.controller.forget(p.name);
    for (const p of d.pools.added) this.controller.forget(p.name);
    for (const c of d.pools.changed) if (touches(c, 'algorithm')) this.controller.forget(c.name);
  }

  /** Why an adaptive pool uses its strategy now; null for a pool that is not adaptive. */
  reason(pool: string): string | null {
    return this.controller.reason(pool);
  }

  tick(now: number): void {
    const switches = this.controller.evaluate(this.adaptivePools(now), now);
    for (const s of switches) {
      log.info('adaptive pool switched strategy', { pool: s.pool, from: s.from, to: s.to, reason: s.reason });
      this.events.push({ type: 'adaptive', time: now, pool: s.pool, from: s.from, to: s.to, reason: s.reason });
    }
  }

  private adaptivePools(now: number): AdaptivePool[] {
    const t = this.table;
    const pools = new Map<string, AdaptivePool>();
    const members = new Map<string, { key: string; name: string; slot: number }[]>();
    for (const [name, timing] of this.pools) {
      const slot = this.topology.pools.get(name)!;
      if (t.pools.algorithm(slot) !== ADAPTIVE) continue;
      pools.set(name, { name, slot, samples: [], timing, distribution: this.distribution });
      members.set(name, []);
    }
    for (const name of [...this.latency.keys()]) if (!pools.has(name)) this.latency.delete(name);
    if (pools.size === 0) return [];
    for (const [key, { pool, backend }] of this.topology.backendConfig) {
      const slot = this.topology.backends.get(key);
      if (slot !== undefined) members.get(pool.name)?.push({ key, name: backend.name, slot });
    }
    for (const p of pools.values()) {
      const list = members.get(p.name)!;
      const lat = this.estimates(p.name, list);
      lat.refresh(now);
      const freshMs = Math.max(FRESH_MIN_MS, FRESH_WINDOWS * (p.timing?.window ?? 0));
      for (const m of list) {
        if (!t.backends.eligible(m.slot) || t.backends.isBackup(m.slot)) continue;
        const i = lat.indexOf(m.slot);
        const sample: AdaptiveBackend = {
          name: m.name,
          weight: Math.max(1, t.backends.effectiveWeight(m.slot)),
          active: t.backends.active(m.slot),
          latencyMs: lat.age(i, now) <= freshMs ? lat.value(i) : 0,
          connections: t.backendStats.counters(m.slot).connections,
        };
        p.samples.push(sample);
      }
    }
    return [...pools.values()];
  }

  /** The pool's estimates, made again when its backends (or their slots) changed. */
  private estimates(pool: string, list: readonly { key: string; slot: number }[]): LatencyEstimates {
    const have = this.latency.get(pool);
    const same =
      have !== undefined &&
      have.keys.length === list.length &&
      list.every((m, i) => have.keys[i] === m.key && have.estimates.slots[i] === m.slot);
    if (same) return have.estimates;
    const made = {
      keys: list.map((m) => m.key),
      // read every tick, so no refresh interval of their own
      estimates: new LatencyEstimates(
        this.table,
        list.map((m) => m.slot),
        { refreshMs: 0 },
      ),
    };
    this.latency.set(pool, made);
    return made.estimates;
  }
}
