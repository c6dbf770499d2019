// Runs the adaptive controller once a tick over the pools whose algorithm (from the
// config or set at run time) is adaptive; logs and records every switch with its
// reason as an `adaptive` event. Its share of a reload: the pools and their
// timing come from the diff's new config (new timing applies from the next
// window), and a pool that is new, gone or given another algorithm starts its
// evaluation over.
import { AdaptiveController } from './controller.js';
import type { AdaptivePool } from './controller.js';
import { algorithmId } from '../../data/balance/index.js';
import type { Topology } from '../topology/topology.js';
import type { EventLog } from '../events.js';
import { touches, type ConfigDiff } from '../topology/diff.js';
import type { AdaptiveTiming } from '../../config/schema.js';
import { log } from '../../log.js';
import type { Table } from '../../state/table.js';

const ADAPTIVE = algorithmId('adaptive');

export class AdaptiveService {
  private readonly controller: AdaptiveController;
  /** the config's pools: name -> their adaptive timing */
  private pools = new Map<string, AdaptiveTiming>();

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
    for (const p of d.pools.removed) this.controller.forget(p.name);
    for (const p of d.pools.added) this.controller.forget(p.name);
    for (const c of d.pools.changed) if (touches(c, 'algorithm')) this.controller.forget(c.name);
  }

  tick(now: number): void {
    const switches = this.controller.evaluate(this.adaptivePools(), now);
    for (const s of switches) {
      log.info('adaptive pool switched strategy', { pool: s.pool, from: s.from, to: s.to, reason: s.reason });
      this.events.push({ type: 'adaptive', time: now, pool: s.pool, from: s.from, to: s.to, reason: s.reason });
    }
  }

  private adaptivePools(): AdaptivePool[] {
    const t = this.table;
    const pools = new Map<string, AdaptivePool>();
    for (const [name, timing] of this.pools) {
      const slot = this.topology.pools.get(name)!;
      if (t.pools.algorithm(slot) === ADAPTIVE) pools.set(name, { name, slot, samples: [], timing });
    }
    if (pools.size === 0) return [];
    for (const [key, { pool, backend }] of this.topology.backendConfig) {
      const p = pools.get(pool.name);
      const slot = this.topology.backends.get(key);
      if (!p || slot === undefined || !t.backends.eligible(slot) || t.backends.isBackup(slot)) continue;
      p.samples.push({
        name: backend.name,
        weight: Math.max(1, t.backends.effectiveWeight(slot)),
        active: t.backends.active(slot),
        latencyMs: t.backends.ewmaConnect(slot) + t.backends.ewmaFirstByte(slot),
      });
    }
    return [...pools.values()];
  }
}
