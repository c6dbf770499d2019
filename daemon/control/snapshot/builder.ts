// Builds the JSON snapshot (daemon/control/snapshot/snapshot.ts) from the table and the current
// topology. Main thread; called per `show`, per subscriber tick and per scrape.
import { ADMIN_NAMES, CAUSE_NAMES, CHECK_NAMES, OP_NAMES } from '../../state/names.js';
import type { Table } from '../../state/table.js';
import { algorithmName } from '../../data/balance/index.js';
import { sumRates, type CounterRates, type RateTracker } from '../rates.js';
import type { Topology } from '../topology/topology.js';
import type {
  AlertSnapshot,
  BackendSnapshot,
  DiscoverySnapshot,
  InfoSnapshot,
  ListenerSnapshot,
  PoolSnapshot,
  ProcessSnapshot,
  Snapshot,
  WorkerSnapshot,
} from './snapshot.js';
import type { BackendConfig, PoolConfig } from '../../config/schema.js';

export interface SnapshotSources {
  table: Table;
  topology: Topology;
  backendRates: RateTracker;
  counterRates: CounterRates;
  info(): InfoSnapshot;
  process(): ProcessSnapshot;
  workers(): WorkerSnapshot[];
  alerts(): AlertSnapshot[];
  /** per backend slot: the last probe's detail and the passive ejections its pool's cap refused */
  health(slot: number): { detail: string; passiveEjectionsRefused: number };
  /** why an adaptive pool uses its strategy now; null when it is not adaptive */
  adaptiveReason(pool: string): string | null;
  /** where a listener is actually served, and why not as configured */
  listenerStatus(name: string): { bind: string; serving: string | null; error: string | null };
  /** every discovery source, with its pool */
  discovery(): (DiscoverySnapshot & { pool: string })[];
}

export function buildSnapshot(src: SnapshotSources, now: number): Snapshot {
  const { table, topology } = src;
  const config = topology.config!;
  const backends: BackendSnapshot[] = [];
  const pools: PoolSnapshot[] = [];
  const sources = src.discovery();

  for (const pool of config.pools) {
    const poolSlot = topology.pools.get(pool.name)!;
    const keys: string[] = [];
    let up = 0;
    for (const b of pool.backends) {
      const snap = backendSnapshot(src, pool, b, topology.backends.get(b.key)!, false);
      backends.push(snap);
      keys.push(b.key);
      if (snap.op !== 'down' && snap.admin === 'ready') up++;
    }
    for (const r of topology.removed.values()) {
      if (r.pool !== pool.name) continue;
      backends.push(backendSnapshot(src, pool, r.backend, r.slot, true));
      keys.push(r.backend.key);
    }
    const algorithm = algorithmName(table.pools.algorithm(poolSlot));
    const current = table.pools.adaptiveCurrent(poolSlot);
    pools.push({
      name: pool.name,
      algorithm,
      activeAlgorithm: algorithm === 'adaptive' && current >= 0 ? algorithmName(current) : algorithm,
      adaptiveSwitches: table.pools.adaptiveSwitches(poolSlot),
      adaptiveReason: algorithm === 'adaptive' ? src.adaptiveReason(pool.name) : null,
      retries: pool.retries,
      queued: table.pools.queued(poolSlot),
      backends: keys,
      up,
      total: pool.backends.length,
      rates: sumRates(backends.filter((b) => b.pool === pool.name).map((b) => b.rates)),
      discovery: sources.filter((s) => s.pool === pool.name).map(({ pool: _, ...s }) => s),
    });
  }

  const listeners: ListenerSnapshot[] = config.listeners.map((l) => {
    const slot = topology.listeners.get(l.name)!;
    const c = table.listeners.counters(slot);
    return {
      name: l.name,
      configuredBind: l.bind.text,
      pool: l.pool,
      enabled: table.listeners.enabled(slot),
      active: table.listeners.active(slot),
      maxConnections: table.listeners.maxConnections(slot),
      accepted: c.accepted,
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
      rejected: c.rejected,
      protocols: c.protocols,
      peekMisses: c.peekMisses,
      resets: c.resets,
      rates: src.counterRates.get(`listener/${l.name}`),
      ...src.listenerStatus(l.name),
    };
  });

  return {
    time: now,
    info: src.info(),
    process: src.process(),
    workers: src.workers(),
    listeners,
    pools,
    backends,
    alerts: src.alerts(),
  };
}

function backendSnapshot(
  src: SnapshotSources,
  pool: PoolConfig,
  b: BackendConfig,
  slot: number,
  removed: boolean,
): BackendSnapshot {
  const t = src.table;
  const c = t.backendStats.counters(slot);
  const w = src.backendRates.window(slot);
  const check = t.backends.lastCheck(slot);
  const agent = t.backends.agent(slot);
  const health = src.health(slot);
  return {
    key: b.key,
    pool: pool.name,
    name: b.name,
    address: b.address.text,
    admin: ADMIN_NAMES[t.backends.adminState(slot)],
    op: OP_NAMES[t.backends.opState(slot)],
    cause: CAUSE_NAMES[t.backends.lastCause(slot)],
    lastChange: t.backends.lastChange(slot),
    weight: t.backends.weight(slot),
    effectiveWeight: t.backends.effectiveWeight(slot),
    backup: t.backends.isBackup(slot),
    active: t.backends.active(slot),
    maxConnections: t.backends.maxConnections(slot),
    connections: c.connections,
    bytesIn: c.bytesIn,
    bytesOut: c.bytesOut,
    connectErrors: c.connectErrors,
    retries: c.retries,
    passiveFailures: c.passiveFailures,
    passiveEjectionsRefused: health.passiveEjectionsRefused,
    resets: c.resets,
    responseErrors: c.responseErrors,
    rates: w.rates,
    ewmaConnectMs: round3(t.backends.ewmaConnect(slot)),
    ewmaFirstByteMs: round3(t.backends.ewmaFirstByte(slot)),
    connectMs: w.connectMs,
    firstByteMs: w.firstByteMs,
    check: {
      type: pool.health.type,
      result: CHECK_NAMES[check.result],
      durationMs: round3(check.durationMs),
      time: check.time,
      detail: health.detail,
    },
    agent: {
      cpu: finiteOrNull(agent.cpu),
      memory: finiteOrNull(agent.memory),
      connections: finiteOrNull(agent.connections),
    },
    removed,
    source: b.discovered?.source ?? null,
  };
}

function finiteOrNull(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** The workers as snapshots show them: the supervisor's view of each thread and its stripe in the table. */
export function workerSnapshots(
  table: Table,
  threads: readonly { id: number; threadId: number; alive: boolean }[],
): WorkerSnapshot[] {
  return threads.map((w) => {
    const s = table.workers.stats(w.id);
    return {
      id: w.id,
      threadId: w.threadId,
      alive: w.alive,
      starts: s.starts,
      active: s.active,
      accepted: s.accepted,
      loopLagMs: round3(s.loopLagMs),
      cpuSeconds: round3(s.cpuUser + s.cpuSystem),
      nativeRelay: s.nativeRelay,
      relayInPlace: s.relayInPlace,
      accessSuppressed: s.accessSuppressed,
      internalErrors: s.internalErrors,
      fdAcceptPauses: s.fdAcceptPauses,
      fdConnectFailures: s.fdConnectFailures,
      acceptPaused: s.acceptPaused,
      fdLimit: s.fdLimit > 0 && Number.isFinite(s.fdLimit) ? s.fdLimit : null,
      stopCut: s.stopCut,
      stopQueueReset: s.stopQueueReset,
    };
  });
}
