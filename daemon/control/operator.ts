// Run-time changes an operator makes through the control socket (`set state`,
// `set weight`, `set algorithm`, `enable`/`disable listener`): checked, applied
// to the table through its writers, logged, and kept across reloads unless
// the config changes the same item (docs/control.md). With `--fleet`, a state
// or weight goes to the backend's etcd entry instead, for every instance
// watching its prefix (docs/discovery.md).
import { ADMIN_NAMES, AdminState, Cause, type AdminStateName } from '../state/names.js';
import type { Table } from '../state/table.js';
import { log } from '../log.js';
import { NetmonError } from '../errors.js';
import { ALGORITHMS, type AlgorithmName } from '../config/schema.js';
import { algorithmId } from '../data/balance/index.js';
import type { Topology } from './topology/topology.js';
import type { HealthService } from './health/service.js';
import type { DiscoveryService } from './discovery/service.js';

export interface OperatorContext {
  table: Table;
  topology: Topology;
  health: HealthService;
  /** writes `--fleet` changes to a backend's etcd entry */
  discovery: DiscoveryService;
  now: () => number;
  /** ms a fleet change may take to come back through this instance's own watch ([etcd] timeout) */
  fleetTimeout: () => number;
  /** a backend's admin state changed: becomes a `state` event */
  onState(e: { key: string; from: AdminStateName; to: AdminStateName; cause: 'admin'; detail: string }): void;
}

/** Every method throws E_NOT_FOUND for an unknown (or removed) item and E_BAD_ARGUMENT for a bad value. */
export class Operator {
  constructor(private readonly o: OperatorContext) {}

  private backendSlot(key: string): number {
    if (typeof key !== 'string' || !key.includes('/')) {
      throw new NetmonError('E_BAD_ARGUMENT', `backend must be POOL/BACKEND, got ${JSON.stringify(key)}`);
    }
    const slot = this.o.topology.backends.get(key);
    if (slot === undefined || this.o.topology.removed.has(key))
      throw new NetmonError('E_NOT_FOUND', `no backend ${key}`);
    return slot;
  }

  setState(backend: string, state: AdminStateName): void {
    const slot = this.backendSlot(backend);
    const s = ADMIN_NAMES.indexOf(state);
    if (s < 0)
      throw new NetmonError('E_BAD_ARGUMENT', `state must be ready, drain or maint, got ${JSON.stringify(state)}`);
    const before = this.o.table.backends.adminState(slot);
    if (this.o.table.backends.setAdminState(slot, s as AdminState, Cause.Admin, this.o.now())) {
      const from = ADMIN_NAMES[before]!;
      log.info('backend admin state', { backend, from, to: state, cause: 'admin' });
      this.o.onState({ key: backend, from, to: state, cause: 'admin', detail: 'set state' });
    }
  }

  setWeight(backend: string, weight: number): void {
    const slot = this.backendSlot(backend);
    if (!Number.isInteger(weight) || weight < 1 || weight > 256) {
      throw new NetmonError('E_BAD_ARGUMENT', `weight must be an integer 1..256, got ${JSON.stringify(weight)}`);
    }
    const before = this.o.table.backends.weight(slot);
    this.o.topology.setConfiguredWeight(slot, weight);
    this.o.health.weightChanged(slot);
    log.info('backend weight', { backend, from: before, to: weight, cause: 'admin' });
  }

  /**
   * `set state POOL/BACKEND STATE --fleet`: written into the backend's etcd
   * entry, so every instance watching its prefix applies it; resolves once this
   * one has (through its own watch, or at once when the entry already said so).
   * Throws as setState, and E_BAD_ARGUMENT (not from etcd), E_ETCD, E_DISCOVERY_ENTRY.
   */
  async setFleetState(backend: string, state: AdminStateName): Promise<void> {
    const slot = this.backendSlot(backend);
    const want = ADMIN_NAMES.indexOf(state);
    if (want < 0)
      throw new NetmonError('E_BAD_ARGUMENT', `state must be ready, drain or maint, got ${JSON.stringify(state)}`);
    const b = this.o.topology.backendConfig.get(backend)!.backend;
    await this.o.discovery.writeFleet(backend, b.discovered, b.name, { state });
    await this.appliedHere(() => this.o.table.backends.adminState(slot) === want);
    if (this.o.table.backends.adminState(slot) !== want) this.setState(backend, state);
  }

  /** `set weight POOL/BACKEND N --fleet`, as setFleetState. */
  async setFleetWeight(backend: string, weight: number): Promise<void> {
    const slot = this.backendSlot(backend);
    if (!Number.isInteger(weight) || weight < 1 || weight > 256) {
      throw new NetmonError('E_BAD_ARGUMENT', `weight must be an integer 1..256, got ${JSON.stringify(weight)}`);
    }
    const b = this.o.topology.backendConfig.get(backend)!.backend;
    await this.o.discovery.writeFleet(backend, b.discovered, b.name, { weight });
    await this.appliedHere(() => this.o.table.backends.weight(slot) === weight);
    if (this.o.table.backends.weight(slot) !== weight) this.setWeight(backend, weight);
  }

  /** Resolves once `done()` holds, or after the fleet timeout. */
  private async appliedHere(done: () => boolean): Promise<void> {
    const until = Date.now() + this.o.fleetTimeout();
    while (!done() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }

  setAlgorithm(pool: string, algorithm: string): void {
    const slot = this.o.topology.pools.get(pool);
    if (slot === undefined || this.o.topology.removedPools.has(pool))
      throw new NetmonError('E_NOT_FOUND', `no pool ${pool}`);
    if (!(ALGORITHMS as readonly string[]).includes(algorithm)) {
      throw new NetmonError(
        'E_BAD_ARGUMENT',
        `algorithm must be one of ${ALGORITHMS.join(', ')}; got ${JSON.stringify(algorithm)}`,
      );
    }
    this.o.table.pools.setAlgorithm(slot, algorithmId(algorithm as AlgorithmName));
    log.info('pool algorithm', { pool, to: algorithm, cause: 'admin' });
  }

  setListenerEnabled(listener: string, enabled: boolean): void {
    const slot = this.o.topology.listeners.get(listener);
    if (slot === undefined || this.o.topology.removedListeners.has(listener)) {
      throw new NetmonError('E_NOT_FOUND', `no listener ${listener}`);
    }
    this.o.table.listeners.setEnabled(slot, enabled);
    log.info('listener', { listener, enabled, cause: 'admin' });
  }
}
