// Health's share of a reload (or of a discovery change, the same diff): checks
// start for added backends (those added after the start ramp up under slow
// start when configured), stop for removed ones, and take new settings where a backend's
// address or its pool's health, slow_start or passive settings changed; a
// changed configured weight moves the effective weight (slow start's). Health
// transitions become daemon events.
import { HealthChecker, type HealthTransition } from './checker.js';
import type { HealthBackend } from './tracked.js';
import type { BackendConfig, PoolConfig } from '../../config/schema.js';
import { Cause } from '../../state/names.js';
import type { Table } from '../../state/table.js';
import type { ApplyCause, Topology } from '../topology/topology.js';
import { touches, type ConfigDiff } from '../topology/diff.js';

/** The pool keys a backend's checks depend on. */
const POOL_HEALTH_KEYS = ['health', 'slow_start', 'passive'];

export interface BackendHealth {
  /** the last probe's detail ("" when none) */
  detail: string;
  /** passive ejections refused by the pool's max_ejected_share */
  passiveEjectionsRefused: number;
}

export class HealthService {
  private readonly checker: HealthChecker;

  constructor(table: Table, onState: (e: HealthTransition) => void) {
    this.checker = new HealthChecker({ table, onTransition: onState });
  }

  /** Apply health's share of `d` (after the topology applied its own: slots exist). */
  apply(d: ConfigDiff, topology: Topology, cause: ApplyCause = d.prev === null ? Cause.Config : Cause.Reload): void {
    const entry = (pool: PoolConfig, b: BackendConfig): HealthBackend => ({
      slot: topology.backends.get(b.key)!,
      key: b.key,
      pool: pool.name,
      address: {
        host: b.address.host,
        port: b.address.port,
        ...(b.discovered !== null && b.discovered.host !== '' ? { name: b.discovered.host } : {}),
      },
      check: pool.health,
      slowStartMs: pool.slowStart,
      passive: pool.passive,
    });
    for (const { backend } of d.backends.removed) {
      const r = topology.removed.get(backend.key);
      if (r) this.checker.unwatch(r.slot);
    }
    for (const { pool, backend } of d.backends.added) {
      const e = entry(pool, backend);
      this.checker.watch(e, cause);
      // a backend back from its removal may come with another weight
      this.checker.weightChanged(e.slot);
      if (d.prev !== null) this.checker.rampUp(e.slot, cause);
    }
    const pools = new Set(d.pools.changed.filter((c) => touches(c, ...POOL_HEALTH_KEYS)).map((c) => c.name));
    for (const c of d.backends.changed) {
      const { pool, backend } = c.after;
      if (touches(c, 'address', 'discovered.host') && !pools.has(pool.name))
        this.checker.watch(entry(pool, backend), cause);
      if (touches(c, 'weight')) this.checker.weightChanged(topology.backends.get(backend.key)!);
    }
    for (const pool of d.next.pools) {
      if (pools.has(pool.name)) for (const b of pool.backends) this.checker.watch(entry(pool, b), cause);
    }
  }

  reportConnectFailures(slot: number): void {
    this.checker.reportConnectFailures(slot);
  }

  /** `set weight` changed a backend's configured weight. */
  weightChanged(slot: number): void {
    this.checker.weightChanged(slot);
  }

  /** What snapshots show of a backend's health beyond the table: the last probe's detail, refused ejections. */
  backend(slot: number): BackendHealth {
    return {
      detail: this.checker.checkDetail(slot),
      passiveEjectionsRefused: this.checker.passiveEjectionsRefused(slot),
    };
  }

  /** Health probes not made for want of file descriptors, since start. */
  probesWithoutFds(): number {
    return this.checker.counters().probesWithoutFds;
  }

  stop(): void {
    this.checker.stop();
  }
}
