// Applying a config generation to the table: slots for what is new, updates for
// what changed, drain for what was removed. Used for the first config (applied
// over nothing) and for every reload, so both follow one path.
import type { AlgorithmName, BackendConfig, Config, PoolConfig } from '../../config/schema.js';
import { AdminState, Cause, OpState } from '../../state/names.js';
import type { Table } from '../../state/table.js';
import { algorithmId } from '../../data/balance/index.js';
import { NamedSlots } from './slots.js';
import type { ListenerPlan, PoolPlan, WorkerPlan } from '../../data/plan.js';

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
  /** backend key -> its config, for the current generation */
  readonly backendConfig = new Map<string, { pool: PoolConfig; backend: BackendConfig }>();
  /** listener name -> listening fd passed by systemd (socket activation) */
  readonly activated = new Map<string, number>();

  constructor(readonly table: Table) {
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
    const keys = next.pools.flatMap((p) => p.backends.map((b) => b.key));
    if (
      need(
        this.listeners,
        next.listeners.map((l) => l.name),
      ) > 0
    )
      return 'more listeners than the table holds';
    if (
      need(
        this.pools,
        next.pools.map((p) => p.name),
      ) > 0
    )
      return 'more pools than the table holds';
    if (need(this.backends, keys) > 0) return 'more backends than the table holds (removed ones still draining count)';
    return null;
  }

  /** Apply `next` and return the human summary of what changed. Main thread only. */
  apply(next: Config, now: number): string[] {
    const prev = this.config;
    const t = this.table;
    const changes: string[] = [];
    const generation = ++this.generation;

    if (prev && prev.workers !== next.workers)
      changes.push(`workers ${prev.workers} -> ${next.workers} takes effect at the next restart`);
    if (prev && prev.control.socket !== next.control.socket) {
      changes.push(`control socket ${prev.control.socket} -> ${next.control.socket} takes effect at the next restart`);
    }

    // pools
    const prevPools = new Map((prev?.pools ?? []).map((p) => [p.name, p]));
    for (const pool of next.pools) {
      const [slot, isNew] = this.pools.ensure(pool.name);
      const old = prevPools.get(pool.name);
      if (isNew) {
        t.pools.init(slot, algorithmId(pool.algorithm));
        changes.push(`pool ${pool.name} added`);
      } else if (old && old.algorithm !== pool.algorithm) {
        // the config changed this item: it wins over a run-time `set algorithm`
        t.pools.setAlgorithm(slot, algorithmId(pool.algorithm));
        changes.push(`pool ${pool.name} algorithm ${old.algorithm} -> ${pool.algorithm}`);
      }
    }
    for (const name of [...this.pools.names()]) {
      if (!next.pools.some((p) => p.name === name)) {
        t.pools.free(this.pools.get(name)!);
        this.pools.release(name);
        changes.push(`pool ${name} removed`);
      }
    }

    // backends
    const prevBackends = new Map(this.backendConfig);
    this.backendConfig.clear();
    for (const pool of next.pools) {
      const poolSlot = this.pools.get(pool.name)!;
      for (const b of pool.backends) {
        this.backendConfig.set(b.key, { pool, backend: b });
        const old = prevBackends.get(b.key)?.backend;
        const returning = this.removed.get(b.key);
        const [slot, isNew] = this.backends.ensure(b.key);
        if (isNew) {
          t.backends.init(
            slot,
            {
              pool: poolSlot,
              weight: b.weight,
              maxConnections: b.maxConnections,
              backup: b.backup,
              generation,
              op: OpState.Up,
            },
            now,
          );
          changes.push(`backend ${b.key} added (${b.address.text}, weight ${b.weight})`);
          continue;
        }
        t.backends.setGeneration(slot, generation);
        if (returning) {
          this.removed.delete(b.key);
          if (t.backends.adminState(slot) === AdminState.Drain && t.backends.lastCause(slot) === Cause.Reload) {
            t.backends.setAdminState(slot, AdminState.Ready, Cause.Reload, now);
          }
          changes.push(`backend ${b.key} restored`);
        }
        const before = old ?? returning?.backend;
        if (before && before.weight !== b.weight) {
          t.backends.setWeight(
            slot,
            b.weight,
            scaleEffective(t.backends.effectiveWeight(slot), t.backends.weight(slot), b.weight),
          );
          changes.push(`backend ${b.key} weight ${before.weight} -> ${b.weight}`);
        }
        if (!before || before.maxConnections !== b.maxConnections) t.backends.setMaxConnections(slot, b.maxConnections);
        if (!before || before.backup !== b.backup) t.backends.setBackup(slot, b.backup);
        if (before && before.address.text !== b.address.text) {
          changes.push(`backend ${b.key} address ${before.address.text} -> ${b.address.text}`);
        }
      }
    }
    for (const [key, { pool, backend }] of prevBackends) {
      if (this.backendConfig.has(key)) continue;
      const slot = this.backends.get(key)!;
      // removed backends drain: no new connections, existing ones finish
      t.backends.setAdminState(slot, AdminState.Drain, Cause.Reload, now);
      this.removed.set(key, { slot, pool: pool.name, backend });
      changes.push(`backend ${key} removed (draining ${t.backends.active(slot)} connections)`);
    }

    // listeners
    const prevListeners = new Map((prev?.listeners ?? []).map((l) => [l.name, l]));
    for (const l of next.listeners) {
      const [slot, isNew] = this.listeners.ensure(l.name);
      const old = prevListeners.get(l.name);
      if (isNew) {
        t.listeners.reset(slot);
        t.listeners.init(slot, l.maxConnections);
        changes.push(`listener ${l.name} added on ${l.bind.text}`);
      } else {
        t.listeners.setMaxConnections(slot, l.maxConnections);
        if (old && old.bind.text !== l.bind.text) {
          changes.push(
            this.activated.has(l.name)
              ? `listener ${l.name} bind change ignored: it serves the socket passed by systemd`
              : `listener ${l.name} moved ${old.bind.text} -> ${l.bind.text}`,
          );
        }
        if (old && old.pool !== l.pool) changes.push(`listener ${l.name} pool ${old.pool} -> ${l.pool}`);
      }
    }
    for (const name of [...this.listeners.names()]) {
      if (!next.listeners.some((l) => l.name === name)) {
        t.listeners.free(this.listeners.get(name)!);
        this.listeners.release(name);
        // a passed socket is closed with its listener: its fd number must never be used again
        this.activated.delete(name);
        changes.push(`listener ${name} removed`);
      }
    }

    this.config = next;
    t.header.setGeneration(generation);
    return changes;
  }

  /** Free the slots of removed backends whose last connection has ended. */
  reapRemoved(): string[] {
    const freed: string[] = [];
    for (const [key, r] of this.removed) {
      if (this.table.backends.active(r.slot) > 0) continue;
      this.table.backends.free(r.slot);
      this.backends.release(key);
      this.removed.delete(key);
      freed.push(key);
    }
    return freed;
  }

  plan(): WorkerPlan {
    const c = this.config!;
    const pools: PoolPlan[] = c.pools.map((p) => ({
      slot: this.pools.get(p.name)!,
      name: p.name,
      retries: p.retries,
      connectTimeout: p.timeouts.connect,
      idleTimeout: p.timeouts.idle,
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
    const listeners: ListenerPlan[] = c.listeners.map((l) => ({
      slot: this.listeners.get(l.name)!,
      name: l.name,
      bind: l.bind,
      pool: this.pools.get(l.pool)!,
      backlog: l.backlog,
      edge: l.edge,
      ...(this.activated.has(l.name) ? { fd: this.activated.get(l.name)! } : {}),
    }));
    return { generation: this.generation, accessLog: c.log.access, logLevel: c.log.level, listeners, pools };
  }

  poolAlgorithmName(pool: string): AlgorithmName | undefined {
    return this.config?.pools.find((p) => p.name === pool)?.algorithm;
  }
}

function scaleEffective(effective: number, configured: number, next: number): number {
  if (configured <= 0 || effective >= configured) return next;
  return Math.max(1, Math.round((effective / configured) * next));
}
