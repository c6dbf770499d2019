// Feeds the health checker from the current topology and turns its transitions
// into daemon events.
import { HealthChecker, type HealthTransition } from './checker.js';
import type { HealthBackend } from './tracked.js';
import type { Config } from '../../config/schema.js';
import type { Table } from '../../state/table.js';
import type { Topology } from '../topology/topology.js';

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

  setBackends(topology: Topology, config: Config): void {
    const list: HealthBackend[] = [];
    for (const pool of config.pools) {
      for (const b of pool.backends) {
        list.push({
          slot: topology.backends.get(b.key)!,
          key: b.key,
          pool: pool.name,
          address: { host: b.address.host, port: b.address.port },
          check: pool.health,
          slowStartMs: pool.slowStart,
          passive: pool.passive,
          weight: b.weight,
        });
      }
    }
    this.checker.setBackends(list);
  }

  reportConnectFailures(slot: number): void {
    this.checker.reportConnectFailures(slot);
  }

  setConfiguredWeight(slot: number, weight: number): void {
    this.checker.setConfiguredWeight(slot, weight);
  }

  /** What snapshots show of a backend's health beyond the table: the last probe's detail, refused ejections. */
  backend(slot: number): BackendHealth {
    return {
      detail: this.checker.checkDetail(slot),
      passiveEjectionsRefused: this.checker.passiveEjectionsRefused(slot),
    };
  }

  stop(): void {
    this.checker.stop();
  }
}
