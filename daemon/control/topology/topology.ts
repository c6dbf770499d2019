// The table's share of a reload: slots for what is new, updates for what
// changed, drain for what was removed, all from one ConfigDiff (diff.ts). The
// first config is applied the same way, as a diff from nothing. A removed
// listener, pool or backend keeps its slot until the connections that hold it
// are gone (a slot reused earlier would be zeroed under them); one that comes
// back meanwhile gets its slot, state and counters back.
// The topology is the one writer of a backend's configured weight (the config,
// or `set weight`); its effective weight is slow start's (health/slow-start.ts).
import type { AlgorithmName, BackendConfig, Config, PoolConfig } from '../../config/schema.js';
import { ADMIN_NAMES, AdminState, Cause, OpState, type AdminStateName } from '../../state/names.js';
import type { Table } from '../../state/table.js';
import { algorithmId } from '../../data/balance/index.js';
import { NamedSlots } from './slots.js';
import { ListenAddresses } from './listen-addresses.js';
import type { ListenErrors } from '../supervisor.js';
import { touches, type ConfigDiff } from './diff.js';
import type { ListenerPlan, PoolPlan, WorkerPlan } from '../../data/plan.js';

/** Why a config is applied: the start, a reload, or a discovery source's change (their removals drain alike). */
export type ApplyCause = Cause.Config | Cause.Reload | Cause.Discovery;

/** An admin state a discovery source (an etcd entry's "state") set on a backend. */
export interface SourceAdminChange {
  key: string;
  from: AdminStateName;
  to: AdminStateName;
}

/** A backend removed by a reload, finishing its connections before its slot is freed. */
export interface RemovedBackend {
  slot: number;
  pool: string;
  backend: BackendConfig;
}

export class Topology {
  readonly listeners: NamedSlots;
  readonly pools: NamedSlots;
  readonly backends: NamedSlots;
  config: Config | null = null;
  generation = 0;
  readonly removed = new Map<string, RemovedBackend>();
  /** listeners removed by a reload whose connections are still open: name -> slot */
  readonly removedListeners = new Map<string, number>();
  /** pools removed by a reload with connections still in their queue: name -> slot */
  readonly removedPools = new Map<string, number>();
  /** backend key -> its config, for the current generation */
  readonly backendConfig = new Map<string, { pool: PoolConfig; backend: BackendConfig }>();
  /** listener name -> listening fd passed by systemd (socket activation) */
  readonly activated = new Map<string, number>();
  /** the concrete address every other listener is bound on (a port 0 resolved once; checked before binding) */
  readonly addresses = new ListenAddresses();

  constructor(
    readonly table: Table,
    /** told when a discovery source's admin state is written to a backend (a `state` event) */
    private readonly onSourceAdmin: (e: SourceAdminChange) => void = () => undefined,
  ) {
    this.listeners = new NamedSlots(table.cap.listeners, 'listener');
    this.pools = new NamedSlots(table.cap.pools, 'pool');
    this.backends = new NamedSlots(table.cap.backends, 'backend');
  }

  /**
   * Check that `next` fits the fixed-capacity table before touching anything
   * (a reload that cannot be applied whole is not applied at all).
   */
  fits(next: Config): string | null {
    const need = (cur: NamedSlots, names: string[]): number =>
      names.filter((n) => cur.get(n) === undefined).length - cur.freeCount();
    if (
      need(
        this.listeners,
        next.listeners.map((l) => l.name),
      ) > 0
    ) {
      return 'more listeners than the table holds (removed ones with open connections count)';
    }
    if (
      need(
        this.pools,
        next.pools.map((p) => p.name),
      ) > 0
    ) {
      return 'more pools than the table holds (removed ones with queued connections count)';
    }
    const keys = next.pools.flatMap((p) => p.backends.map((b) => b.key));
    if (need(this.backends, keys) > 0) return 'more backends than the table holds (removed ones still draining count)';
    return null;
  }

  /**
   * Apply the table's share of `d` and return the human summary of it. Main
   * thread only. `cause` is recorded on the backends it removes (they drain).
   */
  apply(d: ConfigDiff, now: number, cause: ApplyCause = Cause.Reload): string[] {
    const changes: string[] = [];
    const generation = ++this.generation;
    this.applyPools(d, changes);
    this.applyBackends(d, generation, now, cause, changes);
    this.applyListeners(d, changes);
    this.config = d.next;
    this.table.header.setGeneration(generation);
    return changes;
  }

  private applyPools(d: ConfigDiff, changes: string[]): void {
    const t = this.table;
    for (const pool of d.pools.added) {
      const [slot, isNew] = this.pools.ensure(pool.name);
      if (isNew) {
        t.pools.init(slot, algorithmId(pool.algorithm));
        changes.push(`pool ${pool.name} added`);
      } else {
        // back before its queue emptied: its slot, counters and queue are kept
        this.removedPools.delete(pool.name);
        t.pools.setAlgorithm(slot, algorithmId(pool.algorithm));
        changes.push(`pool ${pool.name} restored`);
      }
    }
    for (const c of d.pools.changed) {
      if (!touches(c, 'algorithm')) continue;
      // the config changed this item: it wins over a run-time `set algorithm`
      t.pools.setAlgorithm(this.pools.get(c.name)!, algorithmId(c.after.algorithm));
      changes.push(`pool ${c.name} algorithm ${c.before.algorithm} -> ${c.after.algorithm}`);
    }
    for (const pool of d.pools.removed) {
      this.removedPools.set(pool.name, this.pools.get(pool.name)!);
      changes.push(`pool ${pool.name} removed`);
    }
  }

  private applyBackends(d: ConfigDiff, generation: number, now: number, cause: ApplyCause, changes: string[]): void {
    const t = this.table;
    this.backendConfig.clear();
    for (const pool of d.next.pools)
      for (const backend of pool.backends) this.backendConfig.set(backend.key, { pool, backend });
    for (const { pool, backend: b } of d.backends.added) {
      const [slot, isNew] = this.backends.ensure(b.key);
      if (isNew) {
        const init = { weight: b.weight, maxConnections: b.maxConnections, backup: b.backup, generation };
        t.backends.init(slot, { ...init, pool: this.pools.get(pool.name)!, op: OpState.Up }, now);
        changes.push(`backend ${b.key} added (${b.address.text}, weight ${b.weight})`);
        this.applySourceAdmin(slot, null, b, now);
        continue;
      }
      // back while still draining from its removal: the slot keeps its state and counters
      const returning = this.removed.get(b.key)!;
      this.removed.delete(b.key);
      const removal = t.backends.lastCause(slot);
      if (
        t.backends.adminState(slot) === AdminState.Drain &&
        (removal === Cause.Reload || removal === Cause.Discovery)
      ) {
        t.backends.setAdminState(slot, AdminState.Ready, cause, now);
      }
      changes.push(`backend ${b.key} restored`);
      this.applyBackend(slot, returning.backend, b, now, changes);
    }
    for (const c of d.backends.changed)
      this.applyBackend(this.backends.get(c.name)!, c.before.backend, c.after.backend, now, changes);
    for (const b of d.next.pools.flatMap((p) => p.backends))
      t.backends.setGeneration(this.backends.get(b.key)!, generation);
    for (const { pool, backend } of d.backends.removed) {
      const slot = this.backends.get(backend.key)!;
      // removed backends drain: no new connections, existing ones finish
      t.backends.setAdminState(slot, AdminState.Drain, cause === Cause.Discovery ? Cause.Discovery : Cause.Reload, now);
      this.removed.set(backend.key, { slot, pool: pool.name, backend });
      changes.push(`backend ${backend.key} removed (draining ${t.backends.active(slot)} connections)`);
    }
  }

  /** What the config changed on a backend that keeps its slot; a run-time weight is kept unless the weight key changed. */
  private applyBackend(slot: number, before: BackendConfig, b: BackendConfig, now: number, changes: string[]): void {
    const t = this.table;
    this.applySourceAdmin(slot, before, b, now);
    if (before.weight !== b.weight) {
      t.backends.setConfiguredWeight(slot, b.weight);
      changes.push(`backend ${b.key} weight ${before.weight} -> ${b.weight}`);
    }
    if (before.maxConnections !== b.maxConnections) t.backends.setMaxConnections(slot, b.maxConnections);
    if (before.backup !== b.backup) t.backends.setBackup(slot, b.backup);
    if (before.address.text !== b.address.text) {
      changes.push(`backend ${b.key} address ${before.address.text} -> ${b.address.text}`);
    }
  }

  /**
   * The admin state a discovery source asks for (an etcd entry's "state"), when
   * it is new or changed: like a configured weight, it wins over a run-time
   * `set state` only when the source changes it.
   */
  private applySourceAdmin(slot: number, before: BackendConfig | null, b: BackendConfig, now: number): void {
    const want = b.discovered?.admin ?? null;
    if (want === null || want === (before?.discovered?.admin ?? null)) return;
    const from = ADMIN_NAMES[this.table.backends.adminState(slot)];
    if (this.table.backends.setAdminState(slot, ADMIN_NAMES.indexOf(want) as AdminState, Cause.Fleet, now)) {
      this.onSourceAdmin({ key: b.key, from, to: want });
    }
  }

  private applyListeners(d: ConfigDiff, changes: string[]): void {
    const t = this.table;
    for (const l of d.listeners.added) {
      const [slot, isNew] = this.listeners.ensure(l.name);
      if (isNew) {
        t.listeners.reset(slot);
        t.listeners.init(slot, l.maxConnections);
        changes.push(`listener ${l.name} added on ${l.bind.text}`);
      } else {
        // back while its connections were still open: counters and enabled state are kept
        this.removedListeners.delete(l.name);
        t.listeners.setMaxConnections(slot, l.maxConnections);
        changes.push(`listener ${l.name} restored on ${l.bind.text}`);
      }
    }
    for (const c of d.listeners.changed) {
      const slot = this.listeners.get(c.name)!;
      if (touches(c, 'max_connections')) t.listeners.setMaxConnections(slot, c.after.maxConnections);
      if (touches(c, 'bind')) {
        changes.push(
          this.activated.has(c.name)
            ? `listener ${c.name} bind change ignored: it serves the socket passed by systemd`
            : `listener ${c.name} moved ${c.before.bind.text} -> ${c.after.bind.text}`,
        );
      }
      if (touches(c, 'pool')) changes.push(`listener ${c.name} pool ${c.before.pool} -> ${c.after.pool}`);
    }
    for (const l of d.listeners.removed) {
      this.removedListeners.set(l.name, this.listeners.get(l.name)!);
      // a passed socket is closed with its listener: its fd number must never be used again
      this.activated.delete(l.name);
      changes.push(`listener ${l.name} removed`);
    }
  }

  /**
   * Free the slots of removed items whose last connection is gone: backends
   * with none open, listeners with none open, pools with none queued.
   * Returns what was freed ("backend web/b1", "listener extra", "pool old").
   */
  reapRemoved(): string[] {
    const t = this.table;
    const freed: string[] = [];
    for (const [key, r] of this.removed) {
      if (t.backends.active(r.slot) > 0) continue;
      t.backends.free(r.slot);
      this.backends.release(key);
      this.removed.delete(key);
      freed.push(`backend ${key}`);
    }
    for (const [name, slot] of this.removedListeners) {
      if (t.listeners.active(slot) > 0) continue;
      t.listeners.free(slot);
      this.listeners.release(name);
      this.removedListeners.delete(name);
      freed.push(`listener ${name}`);
    }
    for (const [name, slot] of this.removedPools) {
      if (t.pools.queued(slot) > 0) continue;
      t.pools.free(slot);
      this.pools.release(name);
      this.removedPools.delete(name);
      freed.push(`pool ${name}`);
    }
    return freed;
  }

  /** The configured weight of a live backend, as `set weight` changes it at run time. */
  setConfiguredWeight(slot: number, weight: number): void {
    this.table.backends.setConfiguredWeight(slot, weight);
  }

  plan(): WorkerPlan {
    const c = this.config!;
    const pools: PoolPlan[] = c.pools.map((p) => ({
      slot: this.pools.get(p.name)!,
      name: p.name,
      retries: p.retries,
      retryConnect: p.retryOn.includes('connect_failure'),
      replayBytes: p.retryOn.includes('empty_response') ? p.retryBuffer : 0,
      connectTimeout: p.timeouts.connect,
      idleTimeout: p.timeouts.idle,
      firstByteTimeout: p.timeouts.firstByte,
      queueSize: p.queueSize,
      queueTimeout: p.timeouts.queue,
      passiveFailures: p.passive.consecutiveFailures,
      sendProxy: p.sendProxy,
      members: p.backends.map((b) => ({
        slot: this.backends.get(b.key)!,
        key: b.key,
        host: b.address.host,
        port: b.address.port,
        backup: b.backup,
      })),
    }));
    const listeners: ListenerPlan[] = [];
    for (const l of c.listeners) {
      const fd = this.activated.get(l.name);
      const bind = fd === undefined ? this.addresses.address(l.name) : l.bind;
      // refused before any worker bound it (listen-addresses.ts): no worker opens it this generation
      if (bind === null) continue;
      listeners.push({
        slot: this.listeners.get(l.name)!,
        name: l.name,
        bind: bind ?? l.bind,
        pool: this.pools.get(l.pool)!,
        backlog: l.backlog,
        clientIdle: l.timeouts.clientIdle,
        edge: l.edge,
        ...(fd !== undefined ? { fd } : {}),
      });
    }
    return {
      generation: this.generation,
      accessLog: c.log.access,
      relay: c.data.relay,
      logLevel: c.log.level,
      listeners,
      pools,
    };
  }

  /**
   * Check and resolve the addresses the workers are to bind for the current
   * config, before they bind (listen-addresses.ts); `open`: listeners some live
   * worker serves now. Returns the listeners refused (E_LISTEN).
   */
  prepareBinds(open: ReadonlySet<string>): Promise<ListenErrors> {
    const c = this.config!;
    return this.addresses.prepare({ listeners: c.listeners, activated: this.activated, open, workers: c.workers });
  }

  /** Before a worker restarts: the listeners no live worker serves that another program now holds (E_LISTEN). */
  recheckBinds(open: ReadonlySet<string>): Promise<ListenErrors> {
    return this.addresses.recheck(open, this.config!.workers);
  }

  /** The address a listener is bound on as configured: its port 0 as the port it was given. */
  boundText(name: string): string {
    const configured = this.config?.listeners.find((l) => l.name === name)?.bind.text ?? '';
    return this.activated.has(name) ? configured : (this.addresses.address(name)?.text ?? configured);
  }

  poolAlgorithmName(pool: string): AlgorithmName | undefined {
    return this.config?.pools.find((p) => p.name === pool)?.algorithm;
  }
}
